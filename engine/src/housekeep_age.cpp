// parse_age_limit (housekeep.hpp): the --older-than values.
#include "housekeep_age.hpp"

#include "mutx/housekeep.hpp"

namespace mutx {

std::optional<age_limit> parse_age_limit(std::string_view text) noexcept {
  using detail::day;
  using detail::hour;
  using detail::max_seconds;
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  std::size_t digits = 0;
  std::int64_t amount = 0;
  while (digits < text.size() && is_digit(text[digits])) {
    const int d = text[digits] - '0';
    if (amount > (max_seconds - d) / 10) return std::nullopt;
    amount = amount * 10 + d;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  std::int64_t unit = 0;
  if (digits < text.size()) {
    if (digits + 1 != text.size()) return std::nullopt;
    switch (text[digits]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = hour; break;
      case 'd': unit = day; break;
      case 'w': unit = 7 * day; break;
      default: return std::nullopt;
    }
  }
  // A bare number may mean days.
  if (amount > max_seconds / (unit ? unit : day)) return std::nullopt;
  return age_limit{amount, unit};
}

}  // namespace mutx
