// The input of the record fuzzers after their first byte: header lines
// "name: value", an empty line, then the record's value (no empty line: it
// is all value).
#pragma once

#include <string>
#include <string_view>

#include "kastor/runtime/message.hpp"

namespace kastor::fuzz {

struct record_input {
  runtime::header_list headers;
  std::string_view value;
};

inline record_input parse_record_input(std::string_view rest) {
  record_input in;
  auto split = rest.find("\n\n");
  std::string_view head = split == std::string_view::npos ? std::string_view{} : rest.substr(0, split);
  in.value = split == std::string_view::npos ? rest : rest.substr(split + 2);
  while (!head.empty()) {
    auto eol = head.find('\n');
    auto line = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 1);
    auto colon = line.find(": ");
    if (colon != std::string_view::npos)
      in.headers.push_back({std::string{line.substr(0, colon)}, std::string{line.substr(colon + 2)}});
  }
  return in;
}

}  // namespace kastor::fuzz
