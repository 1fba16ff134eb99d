// The two ports through which a role's actors touch the outside world.
// runtime/ defines them, bridges/ implements them on Kafka, tests fake them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kastor/runtime/message.hpp"

namespace kastor::runtime {

// Outcome of a publish: empty error string on success. `possibly_persisted`
// is set when the outcome is unknown (e.g. a timed-out idempotent write that
// may still have been written): callers must treat it as neither done nor failed.
struct publish_outcome {
  std::string error;
  bool possibly_persisted = false;
  // false: retrying cannot help (e.g. the record is too large): the failure
  // belongs to the record, which is then dead-lettered like a poison record.
  bool retriable = true;
  // The record itself is refused, as it is, for good (too large, invalid):
  // not the broker's or the producer's state. A copy of it that is cut
  // down may still go.
  bool record_refused = false;
  bool ok() const { return error.empty(); }
};

using publish_callback = std::function<void(const publish_outcome&)>;

// Publishes messages to wherever the routes send them.
// Thread-safety: every member may be called from any thread.
// The callback runs exactly once per publish() call, on a bridge thread, after
// every message in the batch was acknowledged by the broker (or one failed):
// it must not block; post to an actor or an io_context instead.
class publisher {
public:
  virtual ~publisher() = default;
  // `cause` (may be null) is the inbound record being handled: its correlation
  // and trace ids are carried into the published records' headers.
  virtual void publish(std::vector<message> batch, const record_meta* cause,
                       publish_callback done) = 0;
};

// Told when an actor has finished with an inbound record.
// Thread-safety: may be called from any thread; calls for records that are no
// longer in flight (finished before, or revoked) are ignored.
class completion_sink {
public:
  virtual ~completion_sink() = default;
  // The record's effects are durable: its offset may be committed.
  virtual void finished(const record_meta& m) = 0;
  // The actor starts handling the record now. If the actor dies before the
  // next started(), this record is the suspect: only its failure count grows
  // (see actor_died()).
  virtual void started(const record_meta& m) { (void) m; }
  // The actor's turn for the record is over (its handler returned; what it
  // produced may still be in flight). A turn that does not end within the
  // mailbox's turn deadline means the actor hangs: it is killed.
  virtual void turn_done(const record_meta& m) { (void) m; }
  // The actor is about to die for a reason that is not the record it handles
  // (e.g. the broker did not acknowledge a publish): blame no record.
  virtual void clear_suspect() {}
  // The actor died abnormally (crash, exception, hang): the record it was
  // handling, if any, failed once more. Called by whoever watches the actor.
  virtual void actor_died() {}
  // The actor rejected the record (runtime::reject): it can never succeed, so
  // it goes to the dead-letter topic now, with `reason`, without retries.
  virtual void rejected(const record_meta& m, const std::string& reason) {
    (void) reason;
    finished(m);
  }
  // The actor's handler threw on the record, and the actor goes on. True:
  // the sink counts it as one failure of this record alone (its key waits
  // and the record is tried again after a backoff, or dead-lettered after
  // the last attempt, while every other key flows). False: the actor must
  // die for it instead (its supervisor restarts it), as with any crash.
  virtual bool failed(const record_meta& m, const std::string& reason) {
    (void) m;
    (void) reason;
    return false;
  }
  // False for a record delivered before its partition was revoked: another
  // consumer owns it now, so it must not be handled here. Records that did
  // not come from a mailbox (incarnation 0) are always current.
  virtual bool current(const record_meta& m) const {
    (void) m;
    return true;
  }
  // current() and started() as one step: false (and nothing started) when
  // the record is not current. A mailbox overrides it so that no turn can
  // start between its check and a revocation's hand-off.
  virtual bool try_start(const record_meta& m) {
    if (!current(m))
      return false;
    started(m);
    return true;
  }
};

}  // namespace kastor::runtime
