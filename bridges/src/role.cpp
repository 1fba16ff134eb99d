#include "kastor/bridges/role.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "kastor/runtime/errors.hpp"
#include "kastor/runtime/logging.hpp"

namespace kastor::bridges {

namespace {

using health_atom = caf::atom_constant<caf::atom("health")>;
constexpr std::chrono::milliseconds health_interval{500};

caf::behavior bridge_actor(caf::event_based_actor* self, std::shared_ptr<kafka_mailbox> mailbox,
                           std::shared_ptr<mailbox_slot> slot) {
  self->attach_functor([mailbox, slot](const caf::error&) { slot->retire(mailbox); });
  self->delayed_send(self, health_interval, health_atom::value);
  return {
    [self, mailbox](health_atom) {
      if (auto why = mailbox->failure()) {
        self->quit(runtime::make_error(runtime::bridge_errc::kafka_fatal,
                                       "consumer " + mailbox->options().group_id + ": " + *why));
        return;
      }
      self->delayed_send(self, health_interval, health_atom::value);
    },
  };
}

// A restart's options: join only once the retired mailboxes have stopped
// (each within its close budget; past that, join anyway).
mailbox_options with_predecessor(mailbox_options opts, std::shared_ptr<mailbox_slot> slot) {
  // (weak: the slot outlives its mailboxes, never the other way round)
  opts.join_after = [weak = std::weak_ptr<mailbox_slot>{slot}, group = opts.group_id,
                     before = slot->retirements()](const std::atomic<bool>& stopping) {
    auto slot = weak.lock();
    if (slot && !slot->wait_retired(before, std::chrono::seconds{15}, stopping)
        && !stopping.load())
      runtime::logger("kastor.bridge")->warn(
        "mailbox group={} event=predecessor_still_closing: joining anyway", group);
  };
  return opts;
}

}  // namespace

std::shared_ptr<kafka_mailbox> mailbox_slot::get() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return current_;
}

void mailbox_slot::set(std::shared_ptr<kafka_mailbox> mb) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (current_ && current_ != mb)
    keep_counting(current_);  // replaced: counted until its retire() is done
  current_ = std::move(mb);
}

// Under mtx_: `mb`'s counters stay in stats() (a counter a scrape saw must
// never go down) until its stop is done and they move into retired_.
void mailbox_slot::keep_counting(const std::shared_ptr<kafka_mailbox>& mb) {
  if (std::find(retiring_.begin(), retiring_.end(), mb) == retiring_.end())
    retiring_.push_back(mb);
}

void mailbox_slot::retire(std::shared_ptr<kafka_mailbox> mb) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (current_ == mb)
    current_.reset();
  keep_counting(mb);
  const auto n = retire_calls_++;
  retire_done_.push_back(false);
  stopping_.emplace_back([this, mb, n] {
    mb->stop();
    auto s = mb->stats();
    std::lock_guard<std::mutex> g{mtx_};
    retire_done_[n] = true;
    retired_cv_.notify_all();
    retiring_.erase(std::remove(retiring_.begin(), retiring_.end(), mb), retiring_.end());
    retired_.add_counters(s);
  });
}

void mailbox_slot::join() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    threads.swap(stopping_);
  }
  for (auto& t : threads)
    t.join();
}

uint64_t mailbox_slot::retirements() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return retire_calls_;
}

bool mailbox_slot::wait_retired(uint64_t n, std::chrono::milliseconds deadline,
                                const std::atomic<bool>& stop) {
  auto until = std::chrono::steady_clock::now() + deadline;
  std::unique_lock<std::mutex> guard{mtx_};
  auto done = [&] {
    return std::all_of(retire_done_.begin(),
                       retire_done_.begin() + static_cast<std::ptrdiff_t>(n),
                       [](bool d) { return d; });
  };
  while (!done()) {
    if (stop.load() || std::chrono::steady_clock::now() >= until)
      return false;
    retired_cv_.wait_for(guard, std::chrono::milliseconds{100});
  }
  return true;
}

mailbox_stats mailbox_slot::stats() const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto s = current_ ? current_->stats() : mailbox_stats{};
  s.add_counters(retired_);
  for (const auto& mb : retiring_)  // stopping: their counters as they stand
    s.add_counters(mb->stats());
  return s;
}

runtime::child_spec mailbox_bridge_child(std::shared_ptr<kafka_mailbox> first,
                                         std::shared_ptr<mailbox_slot> slot) {
  runtime::child_spec c;
  c.name = "bridge";
  c.shutdown = std::chrono::milliseconds{5000};
  auto unused = std::make_shared<std::shared_ptr<kafka_mailbox>>(first);
  auto opts = first->options();
  c.start = [unused, opts, slot](caf::local_actor* parent) -> caf::actor {
    std::shared_ptr<kafka_mailbox> mb;
    if (*unused) {
      mb = std::move(*unused);
      unused->reset();
    } else if (auto made = kafka_mailbox::make(with_predecessor(opts, slot))) {
      mb = *made;
    } else {
      throw std::runtime_error(runtime::describe(made.error()));
    }
    slot->set(mb);
    mb->start();
    return parent->system().spawn(bridge_actor, mb, slot);
  };
  return c;
}

runtime::child_spec mailbox_worker_child(std::string name, worker_spawn spawn, runtime::role_io io,
                                         std::shared_ptr<mailbox_slot> slot,
                                         std::function<void(const caf::actor&)> on_start) {
  runtime::child_spec c;
  c.name = std::move(name);
  c.shutdown = std::chrono::milliseconds{2000};
  c.start = [=](caf::local_actor* parent) -> caf::actor {
    auto mailbox = slot->get();
    if (!mailbox)
      return nullptr;  // no bridge: a failed start
    auto my_io = io;
    my_io.acks = mailbox;
    if (auto txn = mailbox->transactional_out())
      my_io.out = txn;  // exactly-once: into the mailbox's open transaction
    auto a = spawn(parent->system(), my_io);
    // An abnormal exit counts against the record it was handling (a stop on
    // request, or a kill at the shutdown deadline, does not).
    caf::actor_cast<caf::abstract_actor*>(a)->attach_functor([mailbox](const caf::error& reason) {
      if (reason && reason != caf::exit_reason::normal && reason != caf::exit_reason::user_shutdown
          && reason != caf::exit_reason::kill)
        mailbox->actor_died();
    });
    mailbox->bind(a);
    if (on_start)
      on_start(a);
    return a;
  };
  return c;
}

std::string role_client_id(const std::string& node, const std::string& role, bool standby) {
  return node + "-" + role + (standby ? "-standby" : "");
}

role_member parse_role_client_id(const std::string& client_id, const std::string& role) {
  auto ends_with = [&](const std::string& suffix) {
    return client_id.size() > suffix.size()
           && client_id.compare(client_id.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (bool standby : {true, false}) {
    auto suffix = "-" + role + (standby ? "-standby" : "");
    if (ends_with(suffix))
      return {client_id.substr(0, client_id.size() - suffix.size()), standby};
  }
  return {client_id, false};
}

}  // namespace kastor::bridges
