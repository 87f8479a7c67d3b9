#include "mutx/names.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <cstdio>

namespace mutx {

namespace {

constexpr std::string_view lock_suffix = ".lock";
constexpr std::string_view temp_marker = ".mutx-";
// After the marker, a check copy's tag starts with it (.NAME.mutx-c0.EXT).
constexpr char check_tag = 'c';
// After the marker (and a check copy's 'c'): a temp named after the
// writer's etcd lease (.NAME.mutx-e0123456789abcdef).
constexpr char lease_tag = 'e';
constexpr std::size_t lease_digits = 16;
constexpr std::string_view tree_marker = ".mutx-tree-";
constexpr std::string_view old_tree_suffix = ".mutx-old";
constexpr std::size_t random_length = 12;
constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_random_char(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'z'); }
bool is_hex_digit(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'f'); }

// 'e' and the lease in 16 lowercase hex digits.
std::string lease_tag_text(std::int64_t lease) {
  char buf[lease_digits + 2];
  std::snprintf(buf, sizeof buf, "%c%016llx", lease_tag, static_cast<unsigned long long>(lease));
  return buf;
}

// The lease of a lease tag: exactly 'e' + 16 lowercase hex digits, of a
// lease etcd can grant (positive); 0 for anything else.
std::int64_t parse_lease_tag(std::string_view tag) noexcept {
  if (tag.size() != 1 + lease_digits || tag[0] != lease_tag) return 0;
  std::uint64_t v = 0;
  for (char c : tag.substr(1)) {
    if (!is_hex_digit(c)) return 0;
    v = v << 4 | static_cast<std::uint64_t>(is_digit(c) ? c - '0' : c - 'a' + 10);
  }
  return v >> 63 ? 0 : static_cast<std::int64_t>(v);
}

// Digits only, at most 18 of them (no overflow); nullopt otherwise.
std::optional<std::int64_t> parse_digits(std::string_view s) noexcept {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string temp_prefix(std::string_view target) {
  std::string out;
  out.reserve(1 + target.size() + temp_marker.size() + random_length);
  out += '.';
  out += target;
  out += temp_marker;
  return out;
}

}  // namespace

std::string lock_name(std::string_view target) {
  std::string out(target);
  out += lock_suffix;
  return out;
}

std::optional<std::string_view> parse_lock_name(std::string_view name) noexcept {
  if (name.size() <= lock_suffix.size() || !name.ends_with(lock_suffix)) return std::nullopt;
  return name.substr(0, name.size() - lock_suffix.size());
}

std::string temp_slot_name(std::string_view target, int slot) {
  std::string out = temp_prefix(target);
  out += static_cast<char>('0' + slot % 10);
  return out;
}

std::string random_temp_name(std::string_view target) {
  unsigned char raw[random_length];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) {
    // getrandom cannot fail for 12 bytes once the pool is up; fall back to
    // something unique to this process rather than aborting a write.
    for (unsigned i = 0; i < sizeof raw; ++i) raw[i] = static_cast<unsigned char>((::getpid() >> (i % 4)) + i * 7);
  }
  std::string out = temp_prefix(target);
  for (unsigned char c : raw) out += alphabet[c % (sizeof alphabet - 1)];
  return out;
}

std::string lease_temp_name(std::string_view target, std::int64_t lease) {
  return temp_prefix(target) + lease_tag_text(lease);
}

std::size_t temp_name_overhead(bool leased) noexcept {
  return 1 + temp_marker.size() + (leased ? 1 + lease_digits : random_length);
}

std::string_view name_extension(std::string_view target) noexcept {
  const std::size_t dot = target.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == target.size()) return {};
  return target.substr(dot);
}

std::string check_slot_name(std::string_view target, int slot) {
  std::string out = temp_prefix(target);
  out += check_tag;
  out += static_cast<char>('0' + slot % 10);
  out += name_extension(target);
  return out;
}

std::string random_check_name(std::string_view target) {
  std::string random = random_temp_name(target);
  std::string out = temp_prefix(target);
  out += check_tag;
  out += std::string_view(random).substr(random.size() - random_length);
  out += name_extension(target);
  return out;
}

std::string lease_check_name(std::string_view target, std::int64_t lease) {
  std::string out = temp_prefix(target);
  out += check_tag;
  out += lease_tag_text(lease);
  out += name_extension(target);
  return out;
}

std::size_t check_name_overhead(std::string_view target, bool leased) noexcept {
  return temp_name_overhead(leased) + 1 + name_extension(target).size();
}

namespace {

// The slot digit or the 12 random characters of a temp name's tag.
bool is_temp_tag(std::string_view tag) noexcept {
  if (tag.size() == 1) return is_digit(tag[0]) && tag[0] - '0' < temp_slots;
  if (tag.size() != random_length) return false;
  for (char c : tag)
    if (!is_random_char(c)) return false;
  return true;
}

}  // namespace

std::optional<parsed_temp_name> parse_temp(std::string_view name) noexcept {
  if (name.size() < 2 || name[0] != '.') return std::nullopt;
  // NAME may itself hold ".mutx-" (and a check copy's extension may be
  // ".mutx-..."): try each marker from the right. A name read both ways
  // (the check copy of "r.mutx-0" under a lease is also a slot temp of a
  // longer NAME) is read as a lease's: the stricter proof (etcd's) decides.
  std::optional<parsed_temp_name> plain;
  for (std::size_t pos = name.rfind(temp_marker); pos != std::string_view::npos && pos >= 2;
       pos = pos == 0 ? std::string_view::npos : name.rfind(temp_marker, pos - 1)) {
    const std::string_view target = name.substr(1, pos - 1);
    const std::string_view tag = name.substr(pos + temp_marker.size());
    if (const std::int64_t lease = parse_lease_tag(tag)) return parsed_temp_name{target, lease, false};
    if (!plain && is_temp_tag(tag)) plain = parsed_temp_name{target, 0, false};
    // A check copy: "c", the slot, random part or lease tag, NAME's extension.
    const std::string_view ext = name_extension(target);
    if (tag.size() > 1 + ext.size() && tag[0] == check_tag && tag.ends_with(ext)) {
      const std::string_view inner = tag.substr(1, tag.size() - 1 - ext.size());
      if (const std::int64_t lease = parse_lease_tag(inner)) return parsed_temp_name{target, lease, true};
      if (!plain && is_temp_tag(inner)) plain = parsed_temp_name{target, 0, true};
    }
  }
  return plain;
}

std::optional<std::string_view> parse_temp_name(std::string_view name) noexcept {
  if (auto parsed = parse_temp(name)) return parsed->target;
  return std::nullopt;
}

std::string tree_slot_name(std::string_view target, int slot) {
  std::string out = "." + std::string(target) + std::string(tree_marker);
  out += static_cast<char>('0' + slot % 10);
  return out;
}

std::string random_tree_name(std::string_view target) {
  const std::string random = random_temp_name(target);
  return "." + std::string(target) + std::string(tree_marker) +
         std::string(std::string_view(random).substr(random.size() - random_length));
}

std::size_t tree_name_overhead() noexcept { return 1 + tree_marker.size() + random_length; }

std::optional<std::string_view> parse_tree_name(std::string_view name) noexcept {
  if (name.size() < 2 || name[0] != '.') return std::nullopt;
  const std::size_t pos = name.rfind(tree_marker);
  if (pos == std::string_view::npos || pos < 2 || !is_temp_tag(name.substr(pos + tree_marker.size())))
    return std::nullopt;
  return name.substr(1, pos - 1);
}

std::string old_tree_name(std::string_view target) {
  return "." + std::string(target) + std::string(old_tree_suffix);
}

std::optional<std::string_view> parse_old_tree_name(std::string_view name) noexcept {
  if (name.size() < 2 + old_tree_suffix.size() || name[0] != '.' || !name.ends_with(old_tree_suffix))
    return std::nullopt;
  return name.substr(1, name.size() - 1 - old_tree_suffix.size());
}

std::string plain_backup_name(std::string_view target, std::string_view suffix) {
  std::string out(target);
  out += suffix;
  return out;
}

std::string timestamped_backup_name(std::string_view target, std::time_t when, int counter,
                                    std::string_view suffix) {
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  char stamp[48];
  std::snprintf(stamp, sizeof stamp, ".%04d%02d%02d-%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out(target);
  out += stamp;
  if (counter > 0) {
    // '_' sorts after '.', so NAME.T_001.backup comes after NAME.T.backup
    // and before the next second's NAME.T'.backup.
    char gen[16];
    std::snprintf(gen, sizeof gen, "_%03d", counter);
    out += gen;
  }
  out += suffix;
  return out;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<parsed_backup_name> parse_backup_name(std::string_view name, std::string_view suffix) noexcept {
  if (suffix.empty() || name.size() <= suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  const std::string_view stem = name.substr(0, name.size() - suffix.size());
  parsed_backup_name b;
  b.original = stem;
  b.stem = stem;
  // ".YYYYMMDD-HHMMSS" is 16 characters; "_NNN" may follow.
  const std::size_t dot = stem.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return b;
  const std::string_view ts = stem.substr(dot + 1);
  if (ts.size() < 15 || ts[8] != '-') return b;
  const auto date = parse_digits(ts.substr(0, 8));
  const auto time = parse_digits(ts.substr(9, 6));
  if (!date || !time) return b;
  std::int64_t counter = -1;
  if (ts.size() > 15) {
    if (ts[15] != '_' || ts.size() < 19) return b;
    const auto c = parse_digits(ts.substr(16));
    if (!c) return b;
    counter = *c;
  }
  const int year = static_cast<int>(*date / 10000), month = static_cast<int>(*date / 100 % 100),
            mday = static_cast<int>(*date % 100);
  const int h = static_cast<int>(*time / 10000), mi = static_cast<int>(*time / 100 % 100),
            s = static_cast<int>(*time % 100);
  if (month < 1 || month > 12 || mday < 1 || mday > 31 || h > 23 || mi > 59 || s > 60) return b;
  b.original = stem.substr(0, dot);
  b.timestamped = true;
  b.year = year;
  b.month = month;
  b.day = mday;
  b.hour = h;
  b.minute = mi;
  b.second = s;
  b.epoch_utc = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(mday)) * 86400 +
                h * 3600 + mi * 60 + s;
  b.counter = counter;
  return b;
}

std::optional<std::int64_t> generation_stamp(const parsed_backup_name& b, std::int64_t ctime) noexcept {
  if (!b.timestamped) return std::nullopt;
  constexpr std::int64_t stamp_before = 60;
  constexpr std::int64_t stamp_after = 600;
  auto within = [&](std::int64_t name_epoch) {
    return ctime >= name_epoch - stamp_before && ctime <= name_epoch + stamp_after;
  };
  if (within(b.epoch_utc)) return b.epoch_utc;
  const std::time_t t = static_cast<std::time_t>(ctime);
  std::tm tm{};
  if (::localtime_r(&t, &tm) == nullptr || tm.tm_gmtoff == 0) return std::nullopt;
  if (within(b.epoch_utc - tm.tm_gmtoff)) return b.epoch_utc - tm.tm_gmtoff;
  return std::nullopt;
}

}  // namespace mutx
