// SPDX-License-Identifier: MIT
// Recognising and keeping the request header fields the application reads.
#include "http/fields.h"

#include <strings.h>

namespace hkv::http {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<Field> kept_field(std::string_view name) {
  switch (name.size()) {  // most fields are dismissed by their length alone
    case 8:
      if (iequals(name, "if-match")) return Field::if_match;
      break;
    case 12:
      if (iequals(name, "content-type")) return Field::content_type;
      break;
    case 13:
      if (iequals(name, "cache-control")) return Field::cache_control;
      if (iequals(name, "if-none-match")) return Field::if_none_match;
      if (iequals(name, "authorization")) return Field::authorization;
      break;
    default:
      break;
  }
  return std::nullopt;
}

void RequestFields::open(Field f) {
  const std::size_t i = index(f);
  open_ = kFieldCount;
  if (count_[i] == 255) return;  // more are dropped
  open_ = static_cast<std::uint8_t>(i);
  if (count_[i]++ == 0) {
    offset_[i] = static_cast<std::uint32_t>(buf_.size());
    length_[i] = 0;
    return;
  }
  // Rare: move the earlier values to the end so all of this field's values stay contiguous.
  std::string joined = buf_.substr(offset_[i], length_[i]);
  joined += ", ";
  offset_[i] = static_cast<std::uint32_t>(buf_.size());
  length_[i] = static_cast<std::uint32_t>(joined.size());
  buf_ += joined;
}

void RequestFields::append(std::string_view piece) {
  if (open_ == kFieldCount) return;
  // The open field's value ends the buffer: it was opened last.
  buf_.append(piece);
  length_[open_] += static_cast<std::uint32_t>(piece.size());
}

std::optional<std::string_view> RequestFields::get(Field f) const {
  const std::size_t i = index(f);
  if (count_[i] == 0) return std::nullopt;
  return std::string_view(buf_).substr(offset_[i], length_[i]);
}

void RequestFields::clear() {
  buf_.clear();
  count_.fill(0);
  open_ = kFieldCount;
}

}  // namespace hkv::http
