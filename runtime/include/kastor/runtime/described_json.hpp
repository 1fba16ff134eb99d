// The default JSON of a described struct (BOOST_DESCRIBE_STRUCT), written
// for a message that evolves: a reader of version N+1 takes records of
// version N and the other way round.
//
// Reading (from_json):
// - a member the JSON lacks, or holds as null, keeps its default (the
//   struct's member initializer); a std::optional member stays empty;
// - a member the struct lacks is ignored (a newer writer's field);
// - a required member (message_decl::required: "id", or a path into nested
//   structs, "customer.id", "items.sku" for every element of an array) that
//   is missing or null is an error;
// - an error names the member's path and the JSON type it expected:
//   "member 'items[2].price': expected a number, got a string".
// Nested described structs, std::optional, std::vector and maps keyed by
// strings are read the same way, member by member; any other type by
// Boost.JSON's value_to (a tag_invoke of the application's own included).
//
// Writing (to_json) gives Boost.JSON's value_from of the struct, except that
// an empty std::optional member is left out (Boost 1.81 has no conversion of
// std::optional).
//
// Thread-safety: pure functions.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <boost/describe/class.hpp>
#include <boost/describe/members.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <boost/mp11/algorithm.hpp>

namespace kastor::runtime::json {

// Which members must be present, as a tree of member names (a path's last
// name is marked `self`).
struct required_tree {
  bool self = false;
  std::map<std::string, required_tree, std::less<>> members;
  bool empty() const { return !self && members.empty(); }
};

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class U>
struct is_optional<std::optional<U>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class U, class A>
struct is_vector<std::vector<U, A>> : std::true_type {};

template <class T>
struct is_string_map : std::false_type {};
template <class U, class C, class A>
struct is_string_map<std::map<std::string, U, C, A>> : std::true_type {};
template <class U, class H, class E, class A>
struct is_string_map<std::unordered_map<std::string, U, H, E, A>> : std::true_type {};

template <class T>
constexpr bool is_described_struct =
  std::is_class_v<T> && boost::describe::has_describe_members<T>::value;

// (the members Boost.JSON's own conversion takes: public, inherited too)
template <class T>
using members_of =
  boost::describe::describe_members<T, boost::describe::mod_public | boost::describe::mod_inherited>;

inline const char* kind_name(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "an integer";
    case boost::json::kind::double_: return "a number with a fraction";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
  }
  return "?";
}

// One read: the path of the value at hand, and the first error.
class reader {
public:
  std::string error;
  bool missing = false;  // the error is a required member's absence

  template <class T>
  bool read(const boost::json::value& v, T& out, const required_tree* req) {
    if constexpr (is_optional<T>::value) {
      if (v.is_null()) {
        out.reset();
        return true;
      }
      return read(v, out.emplace(), req);
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_bool())
        return wrong(v, "a boolean");
      out = v.get_bool();
      return true;
    } else if constexpr (std::is_integral_v<T>) {
      return read_integer(v, out);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number())
        return wrong(v, "a number");
      out = static_cast<T>(v.to_number<double>());
      return true;
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string())
        return wrong(v, "a string");
      out.assign(v.get_string().data(), v.get_string().size());
      return true;
    } else if constexpr (is_described_struct<T>) {
      return read_struct(v, out, req);
    } else if constexpr (is_vector<T>::value) {
      if (!v.is_array())
        return wrong(v, "an array");
      const auto& a = v.get_array();
      out.clear();
      out.reserve(a.size());
      for (size_t i = 0; i < a.size(); ++i) {
        const auto mark = path_.size();
        path_ += '[' + std::to_string(i) + ']';
        if (!read(a[i], out.emplace_back(), req))
          return false;
        path_.resize(mark);
      }
      return true;
    } else if constexpr (is_string_map<T>::value) {
      if (!v.is_object())
        return wrong(v, "an object");
      out.clear();
      for (const auto& kv : v.get_object()) {
        const auto mark = path_.size();
        path_ += '[';
        path_.append(kv.key().data(), kv.key().size());
        path_ += ']';
        typename T::mapped_type x{};
        if (!read(kv.value(), x, req))
          return false;
        out.insert_or_assign(std::string{kv.key()}, std::move(x));
        path_.resize(mark);
      }
      return true;
    } else {
      auto x = boost::json::try_value_to<T>(v);
      if (!x)
        return fail(x.error().message());
      out = std::move(*x);
      return true;
    }
  }

private:
  std::string path_;

  bool fail(const std::string& what) {
    error = path_.empty() ? what : "member '" + path_ + "': " + what;
    return false;
  }
  bool wrong(const boost::json::value& v, const char* expected) {
    return fail(std::string{"expected "} + expected + ", got " + kind_name(v));
  }

  template <class T>
  bool read_integer(const boost::json::value& v, T& out) {
    using lim = std::numeric_limits<T>;
    if (v.is_int64()) {
      const auto x = v.get_int64();
      if constexpr (std::is_signed_v<T>) {
        if (x >= static_cast<int64_t>(lim::min()) && x <= static_cast<int64_t>(lim::max())) {
          out = static_cast<T>(x);
          return true;
        }
      } else if (x >= 0 && static_cast<uint64_t>(x) <= static_cast<uint64_t>(lim::max())) {
        out = static_cast<T>(x);
        return true;
      }
      return fail("the integer " + std::to_string(x) + " is out of range");
    }
    if (v.is_uint64()) {
      const auto x = v.get_uint64();
      if (x <= static_cast<uint64_t>(lim::max())) {
        out = static_cast<T>(x);
        return true;
      }
      return fail("the integer " + std::to_string(x) + " is out of range");
    }
    if (v.is_double()) {
      // Integral and within T's range (2^63 itself is no int64).
      const double d = v.get_double();
      if (std::trunc(d) == d && d >= static_cast<double>(lim::min())
          && d < 2.0 * static_cast<double>(lim::max() / 2 + 1)) {
        out = static_cast<T>(d);
        return true;
      }
      return fail("expected an integer, got a number with a fraction or out of range");
    }
    return wrong(v, "an integer");
  }

  template <class T>
  bool read_struct(const boost::json::value& v, T& out, const required_tree* req) {
    if (!v.is_object())
      return wrong(v, "an object");
    const auto& o = v.get_object();
    bool ok = true;
    boost::mp11::mp_for_each<members_of<T>>([&](auto d) {
      if (!ok)
        return;
      const required_tree* sub = nullptr;
      if (req != nullptr)
        if (auto it = req->members.find(std::string_view{d.name}); it != req->members.end())
          sub = &it->second;
      const auto mark = path_.size();
      if (!path_.empty())
        path_ += '.';
      path_ += d.name;
      const auto* member = o.if_contains(d.name);
      if (member == nullptr || member->is_null()) {
        // Else it keeps the default it was made with (`out` is always fresh).
        if (sub != nullptr && sub->self) {
          missing = true;
          ok = fail(member == nullptr ? "is required but missing" : "is required but null");
        }
      } else {
        ok = read(*member, out.*d.pointer, sub);
      }
      if (ok)
        path_.resize(mark);
    });
    return ok;
  }
};

}  // namespace detail

// T's JSON (see the top of this file).
template <class T>
boost::json::value to_json(const T& x) {
  if constexpr (detail::is_optional<T>::value) {
    return x ? to_json(*x) : boost::json::value{};
  } else if constexpr (detail::is_described_struct<T>) {
    boost::json::object o;
    boost::mp11::mp_for_each<detail::members_of<T>>([&](auto d) {
      const auto& m = x.*d.pointer;
      if constexpr (detail::is_optional<std::remove_cvref_t<decltype(m)>>::value)
        if (!m)
          return;
      o.emplace(d.name, to_json(m));
    });
    return o;
  } else if constexpr (detail::is_vector<T>::value) {
    boost::json::array a;
    a.reserve(x.size());
    for (const auto& e : x)
      a.push_back(to_json(e));
    return a;
  } else if constexpr (detail::is_string_map<T>::value) {
    boost::json::object o;
    for (const auto& [k, e] : x)
      o.emplace(k, to_json(e));
    return o;
  } else {
    return boost::json::value_from(x);
  }
}

// Why a read failed: the path and what is wrong ("member 'cents': expected
// an integer, got a string"); `missing` when a required member is absent.
struct read_failure {
  std::string what;
  bool missing = false;
};

// Reads `v` into `out` (made by the caller, with its defaults); on failure
// `out` is partly written.
template <class T>
std::optional<read_failure> from_json(const boost::json::value& v, T& out,
                                      const required_tree* required = nullptr) {
  detail::reader r;
  if (r.read(v, out, required))
    return std::nullopt;
  return read_failure{std::move(r.error), r.missing};
}

// Whether `path` ("customer.id", "items.sku") names a member of T, through
// nested described structs, optionals, vectors and string maps.
template <class T>
bool has_member_path(std::string_view path) {
  if constexpr (detail::is_optional<T>::value || detail::is_vector<T>::value) {
    return has_member_path<typename T::value_type>(path);
  } else if constexpr (detail::is_string_map<T>::value) {
    return has_member_path<typename T::mapped_type>(path);
  } else if constexpr (detail::is_described_struct<T>) {
    const auto dot = path.find('.');
    const auto head = path.substr(0, dot);
    bool found = false;
    boost::mp11::mp_for_each<detail::members_of<T>>([&](auto d) {
      if (found || head != d.name)
        return;
      using M = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
      found = dot == std::string_view::npos || has_member_path<M>(path.substr(dot + 1));
    });
    return found;
  } else {
    return false;
  }
}

// The tree of `paths`.
inline required_tree make_required_tree(const std::vector<std::string>& paths) {
  required_tree root;
  for (const auto& p : paths) {
    auto* at = &root;
    std::string_view rest = p;
    for (;;) {
      const auto dot = rest.find('.');
      at = &at->members[std::string{rest.substr(0, dot)}];
      if (dot == std::string_view::npos)
        break;
      rest.remove_prefix(dot + 1);
    }
    at->self = true;
  }
  return root;
}

}  // namespace kastor::runtime::json
