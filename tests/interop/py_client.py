"""kafka-python (seed 000's client) on either side of kastor, as its users
write it: plain JSON values, no headers, the client's default partitioner.

  python3 py_client.py read --brokers B --topic T [--topic T ...] --from FILE --wait S
      Reads every record of the topics from the offsets in FILE (a line
      "topic partition offset" each; others from the start) up to their ends
      as of the call, decodes every value as JSON, and prints one JSON line:
      {"records": N, "by_topic": {...}, "undecodable": [...],
      "order_ids": {topic: [ids]}}.
  python3 py_client.py orders --brokers B --count N --prefix P [--no-key N]
      Produces N seed-shaped order-created records (status CREATED, ISO
      createdAt) keyed by order id, the last --no-key of them without a key,
      and prints one JSON line per order: {"orderId", "customerId", "items",
      "createdAt", "createdAtMs", "keyed"}.

Exits 1 with the reason on stderr when a record cannot be read: nothing a
foreign client meets fails silently.
"""
import argparse
import datetime
import json
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def consumer(brokers):
    return KafkaConsumer(bootstrap_servers=brokers, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", consumer_timeout_ms=1000)


def ends(brokers, topics):
    c = consumer(brokers)
    out = {}
    for t in topics:
        parts = [TopicPartition(t, p) for p in sorted(c.partitions_for_topic(t) or [])]
        out[t] = {str(tp.partition): off for tp, off in c.end_offsets(parts).items()}
    c.close()
    return out


def read_from(path):
    start = {}
    for line in open(path) if path else []:
        fields = line.split()
        if len(fields) == 3:
            start.setdefault(fields[0], {})[fields[1]] = int(fields[2])
    return start


def read(args):
    start = read_from(args.from_file)
    stop = ends(args.brokers, args.topic)
    c = consumer(args.brokers)
    wanted = []
    for t in args.topic:
        for p, end in stop[t].items():
            tp = TopicPartition(t, int(p))
            first = start.get(t, {}).get(p, 0)
            if end > first:
                wanted.append((tp, first, end))
    c.assign([tp for tp, _, _ in wanted])
    for tp, first, _ in wanted:
        c.seek(tp, first)
    left = {tp: end for tp, _, end in wanted}
    result = {"records": 0, "by_topic": {}, "undecodable": [], "order_ids": {}}
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=args.wait)
    while left and datetime.datetime.now() < deadline:
        for tp, records in c.poll(timeout_ms=500).items():
            for r in records:
                if tp not in left or r.offset >= left[tp]:
                    continue
                result["records"] += 1
                result["by_topic"][tp.topic] = result["by_topic"].get(tp.topic, 0) + 1
                try:
                    value = json.loads(r.value.decode("utf-8"))
                    result["order_ids"].setdefault(tp.topic, []).append(value["orderId"])
                except Exception as e:  # noqa: BLE001 - reported, not swallowed
                    result["undecodable"].append(f"{tp.topic}/{tp.partition}@{r.offset}: {e}")
                if r.offset + 1 >= left[tp]:
                    del left[tp]
    c.close()
    if left:
        print(f"py_client: not read to the end in {args.wait} s: {left}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result))


def orders(args):
    p = KafkaProducer(bootstrap_servers=args.brokers, acks="all",
                      value_serializer=lambda v: json.dumps(v).encode("utf-8"))
    futures = []
    for i in range(args.count):
        order_id = f"{args.prefix}-{i}"
        quantity = 1 + i % 3
        now = datetime.datetime.now(datetime.timezone.utc)
        created = now.isoformat()
        created_ms = int(now.replace(microsecond=0).timestamp()) * 1000 + now.microsecond // 1000
        order = {"orderId": order_id, "customerId": f"py-customer-{i}",
                 "items": [{"productId": "p-1", "name": "Mug", "price": 12.5,
                            "quantity": quantity, "subtotal": 12.5 * quantity}],
                 "totalAmount": 12.5 * quantity, "status": "CREATED", "createdAt": created}
        keyed = i < args.count - args.no_key
        futures.append(p.send("order-created", key=order_id.encode() if keyed else None,
                              value=order))
        print(json.dumps({"orderId": order_id, "customerId": order["customerId"],
                          "items": quantity, "createdAt": created, "createdAtMs": created_ms,
                          "keyed": keyed}))
    for f in futures:
        f.get(timeout=30)
    p.flush()
    p.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("verb", choices=["read", "orders"])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", action="append", default=[])
    ap.add_argument("--from", dest="from_file")
    ap.add_argument("--wait", type=float, default=60)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--prefix", default="py")
    ap.add_argument("--no-key", type=int, default=0)
    args = ap.parse_args()
    if args.verb == "read":
        read(args)
    else:
        orders(args)


if __name__ == "__main__":
    main()
