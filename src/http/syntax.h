// SPDX-License-Identifier: MIT
// HTTP's small syntaxes, each parsed in one place: character classes (tokens, host names),
// optional whitespace, comma-separated lists and base64url (the ETags hkv writes, HTTP2-Settings).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace hkv::http {

// A character class: true for ASCII letters and digits and for the characters of `others`.
constexpr std::array<bool, 256> alphanumerics_and(std::string_view others) {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : others) t[static_cast<unsigned char>(c)] = true;
  return t;
}
// RFC 9110 5.6.2 token characters: what a field name or a method may contain.
inline constexpr std::array<bool, 256> kTokenChars = alphanumerics_and("!#$%&'*+-.^_`|~");
// RFC 3986 reg-name characters (unreserved, sub-delims, '%'): what a host name may contain.
inline constexpr std::array<bool, 256> kHostChars = alphanumerics_and("-._~!$&'()*+,;=%");

// Whether `s` is a token: one or more token characters.
bool is_token(std::string_view s);

// A space or a tab: what RFC 9110's optional whitespace (OWS) is made of.
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

// `s` without leading and trailing spaces and tabs.
std::string_view trim_ows(std::string_view s);

// The first item of a comma-separated list, trimmed; removes it (and its comma) from `list`.
// Empty items come back empty (RFC 9110 5.6.1 lets a recipient skip them).
std::string_view next_list_item(std::string_view& list);

// Whether a comma-separated list holds `token`, compared without regard to case.
bool list_has_token(std::string_view list, std::string_view token);

// The base64url alphabet (RFC 4648 5).
inline constexpr char kBase64UrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The value of one base64url character (plain base64's '+' and '/' too), or -1.
int base64url_value(char c);

// Decodes base64url (padding optional). Returns false on a character outside the alphabet.
bool base64url_decode(std::string_view in, std::string& out);

}  // namespace hkv::http
