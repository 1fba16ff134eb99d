// The Java client (kafka-clients, the jar the broker ships with) reading
// kastor's topics: every record is read (any codec kastor wrote must be one
// Java reads), its value must be a JSON object, and a keyed record must sit
// where the Java client's own partitioner puts its key
// (Utils.toPositive(Utils.murmur2(key)) % partitions).
//
//   java -cp "LIBS/*" JavaReader.java BROKERS FROM_FILE TOPIC...
//
// FROM_FILE has a line "topic partition offset" per partition to start at
// (others start at 0). Prints "records=N misplaced=M notjson=K" and one line
// per bad record; exits 1 if any is bad or the end is not reached in 60 s.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.utils.Utils;

public class JavaReader {
  public static void main(String[] args) throws Exception {
    Map<TopicPartition, Long> from = new HashMap<>();
    for (String line : Files.readAllLines(Paths.get(args[1]))) {
      String[] f = line.trim().split("\\s+");
      if (f.length == 3)
        from.put(new TopicPartition(f[0], Integer.parseInt(f[1])), Long.parseLong(f[2]));
    }
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    props.put("enable.auto.commit", "false");
    props.put("key.deserializer", ByteArrayDeserializer.class.getName());
    props.put("value.deserializer", ByteArrayDeserializer.class.getName());
    long records = 0, misplaced = 0, notJson = 0;
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props)) {
      List<TopicPartition> parts = new ArrayList<>();
      Map<String, Integer> counts = new HashMap<>();
      for (int i = 2; i < args.length; ++i) {
        List<PartitionInfo> infos = c.partitionsFor(args[i]);
        counts.put(args[i], infos.size());
        for (PartitionInfo p : infos)
          parts.add(new TopicPartition(p.topic(), p.partition()));
      }
      Map<TopicPartition, Long> ends = c.endOffsets(parts);
      c.assign(parts);
      Map<TopicPartition, Long> left = new HashMap<>();
      for (TopicPartition tp : parts) {
        long first = from.getOrDefault(tp, 0L);
        c.seek(tp, first);
        if (ends.get(tp) > first)
          left.put(tp, ends.get(tp));
      }
      long deadline = System.currentTimeMillis() + 60_000;
      while (!left.isEmpty() && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
          TopicPartition tp = new TopicPartition(r.topic(), r.partition());
          Long end = left.get(tp);
          if (end == null || r.offset() >= end)
            continue;
          ++records;
          String value = r.value() == null ? "" : new String(r.value(), StandardCharsets.UTF_8);
          if (!value.startsWith("{") || !value.endsWith("}")) {
            ++notJson;
            System.out.println("notjson " + tp + "@" + r.offset());
          }
          if (r.key() != null && r.key().length > 0) {
            int home = Utils.toPositive(Utils.murmur2(r.key())) % counts.get(r.topic());
            if (home != r.partition()) {
              ++misplaced;
              System.out.println("misplaced " + tp + "@" + r.offset() + " key="
                                 + new String(r.key(), StandardCharsets.UTF_8) + " java=" + home);
            }
          }
          if (r.offset() + 1 >= end)
            left.remove(tp);
        }
      }
      if (!left.isEmpty()) {
        System.out.println("not read to the end: " + left);
        System.exit(1);
      }
    }
    System.out.println("records=" + records + " misplaced=" + misplaced + " notjson=" + notJson);
    System.exit(misplaced == 0 && notJson == 0 ? 0 : 1);
  }
}
