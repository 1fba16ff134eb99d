// The three services of seed 002, as its README describes them, written the
// way a KafkaJS user writes them: nothing kastor-specific, no headers, the
// seed's JSON. The interop system test puts them on either side of kastor's
// roles.
//
//   node seed002.js order        --brokers B --http PORT
//     POST /api/orders: publishes {orderId, customerId, items, totalAmount,
//     status: "CREATED", createdAt} to order-created and {orderId,
//     customerId, amount} to payment-requests (keyed by order id), answers
//     202 {orderId, status}.
//   node seed002.js billing      --brokers B --out FILE
//     payment-requests -> charges (one JSON line per charge in FILE) ->
//     notification-events {orderId, customerId, type, at}, without a key (as
//     the seed's billing writes them). Declines amounts over 1000.
//   node seed002.js notification --brokers B --out FILE
//     notification-events -> one JSON line per notification in FILE.
//
// Every service prints "ready" once its consumer joined its group (order:
// once its HTTP server listens). A consumer that crashes (KafkaJS reports it
// as an event and stops consuming; the process would stay up) exits 1 here,
// so a record it cannot read fails the test loudly.
'use strict';

const fs = require('fs');
const http = require('http');
const crypto = require('crypto');
const { Kafka, logLevel } = require('kafkajs');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const service = process.argv[2];
const brokers = arg('--brokers', '127.0.0.1:9092').split(',');
const group = arg('--group', `${service}-service`);
const kafka = new Kafka({ clientId: `${service}-service`, brokers, logLevel: logLevel.WARN });

function append(file, obj) {
  fs.appendFileSync(file, JSON.stringify(obj) + '\n');
}

async function consume(topic, handle) {
  const consumer = kafka.consumer({ groupId: group });
  consumer.on(consumer.events.CRASH, (e) => {
    console.error(`${service}: consumer crashed: ${e.payload.error && e.payload.error.message}`);
    process.exit(1);
  });
  consumer.on(consumer.events.GROUP_JOIN, () => console.log('ready'));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const event = JSON.parse(message.value.toString());
      await handle(event, partition, message);
    },
  });
  return consumer;
}

async function order() {
  const producer = kafka.producer();
  await producer.connect();
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/api/orders') {
      res.writeHead(404).end();
      return;
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      try {
        const input = JSON.parse(body);
        const order = {
          orderId: crypto.randomUUID(),
          customerId: input.customerId,
          items: input.items,
          totalAmount: input.totalAmount,
          status: 'CREATED',
          createdAt: new Date().toISOString(),
        };
        await producer.send({
          topic: 'order-created',
          messages: [{ key: order.orderId, value: JSON.stringify(order) }],
        });
        await producer.send({
          topic: 'payment-requests',
          messages: [{
            key: order.orderId,
            value: JSON.stringify({
              orderId: order.orderId, customerId: order.customerId, amount: order.totalAmount,
            }),
          }],
        });
        res.writeHead(202, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ orderId: order.orderId, status: order.status }));
      } catch (e) {
        res.writeHead(500).end(JSON.stringify({ error: String(e) }));
      }
    });
  });
  server.listen(Number(arg('--http', '3000')), '127.0.0.1', () => console.log('ready'));
}

async function billing() {
  const out = arg('--out', 'charges.jsonl');
  const producer = kafka.producer();
  await producer.connect();
  await consume('payment-requests', async (req) => {
    if (typeof req.amount !== 'number')
      throw new Error(`payment request for ${req.orderId} has no amount`);
    const ok = req.amount > 0 && req.amount <= 1000;
    append(out, { orderId: req.orderId, amount: req.amount, ok });
    await producer.send({
      topic: 'notification-events',
      messages: [{
        value: JSON.stringify({
          orderId: req.orderId,
          customerId: req.customerId,
          type: ok ? 'PAYMENT_SUCCEEDED' : 'PAYMENT_FAILED',
          at: new Date().toISOString(),
        }),
      }],
    });
  });
}

async function notification() {
  const out = arg('--out', 'notifications.jsonl');
  await consume('notification-events', async (ev) => {
    append(out, { orderId: ev.orderId, type: ev.type, customerId: ev.customerId });
  });
}

const services = { order, billing, notification };
if (!services[service]) {
  console.error('usage: node seed002.js order|billing|notification --brokers B ...');
  process.exit(2);
}
services[service]().catch((e) => {
  console.error(`${service}: ${e.stack || e}`);
  process.exit(1);
});
