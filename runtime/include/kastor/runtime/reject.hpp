// Dead letters as a verb: a handler that meets a record which can never
// succeed (a business rule, a record that breaks the contract) rejects it.
// The role adapter catches the rejection: the actor does not crash, the record
// is not retried, and the mailbox writes it to `<topic>.dlq` at once with the
// reason and the rejecting actor's path in its headers.
//
//   if (msg.order_id.empty())
//     runtime::reject("deposit without accountId");
#pragma once

#include <stdexcept>
#include <string>

namespace kastor::runtime {

// An invalid_argument, so code that catches those still does.
class rejection : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

[[noreturn]] inline void reject(const std::string& reason) {
  throw rejection(reason);
}

}  // namespace kastor::runtime
