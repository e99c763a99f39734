// SPDX-License-Identifier: MIT
// RequestFields: the few request header fields the application reads (Content-Type,
// Cache-Control, If-Match, If-None-Match, Authorization), kept per request by both protocol
// front-ends; every other field is dropped as it is parsed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hkv::http {

enum class Field : std::uint8_t { content_type, cache_control, if_match, if_none_match, authorization };
inline constexpr std::size_t kFieldCount = 5;

// ASCII case-insensitive equality, as header names and tokens compare.
bool iequals(std::string_view a, std::string_view b);

// The kept field `name` stands for (any letter case), or nullopt.
std::optional<Field> kept_field(std::string_view name);

class RequestFields {
 public:
  // Records a value; a repeated field's values are joined with ", " (RFC 9110 5.3).
  void add(Field f, std::string_view value) {
    open(f);
    append(value);
  }
  // The same for a value that arrives in pieces: open() the field, then append() each piece.
  void open(Field f);
  void append(std::string_view piece);
  std::optional<std::string_view> get(Field f) const;
  // How many times the field appeared (a repeated Content-Type is an error).
  unsigned count(Field f) const { return count_[index(f)]; }
  void clear();
  // Empties it and frees its buffer (an idle connection).
  void release_memory() {
    clear();
    std::string().swap(buf_);
  }

 private:
  static std::size_t index(Field f) { return static_cast<std::size_t>(f); }

  std::string buf_;
  std::array<std::uint32_t, kFieldCount> offset_{};
  std::array<std::uint32_t, kFieldCount> length_{};
  std::array<std::uint8_t, kFieldCount> count_{};
  std::uint8_t open_ = kFieldCount;  // the field append() extends; kFieldCount: none
};

}  // namespace hkv::http
