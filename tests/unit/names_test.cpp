#include "mutx/names.hpp"  // first: the header stands alone

#define BOOST_TEST_MODULE names
#include <boost/test/unit_test.hpp>

#include <string>

using namespace mutx;

// Everything the writer makes is recognised as what it is, for the target
// it was made for; look-alikes made by other programs are not.
BOOST_AUTO_TEST_SUITE(round_trip)

const char* const targets[] = {"a", "config.json", "x.mutx-y", ".hidden", "dump.20250101-120000", "a.lock",
                               "name with spaces", "t.backup", "..", "report.mutx-0"};

BOOST_AUTO_TEST_CASE(lock_names) {
  for (const char* t : targets) {
    const std::string name = lock_name(t);  // parse results view into it
    auto parsed = parse_lock_name(name);
    BOOST_REQUIRE(parsed);
    BOOST_TEST(*parsed == t);
  }
  for (const char* other : {".lock", "lock", "a.lock.old", "a.LOCK", "alock"})
    BOOST_TEST(!parse_lock_name(other).has_value(), other);
}

BOOST_AUTO_TEST_CASE(temp_names) {
  for (const char* t : targets) {
    for (int slot = 0; slot < temp_slots; ++slot) {
      const std::string name = temp_slot_name(t, slot);
      auto parsed = parse_temp_name(name);
      BOOST_REQUIRE(parsed);
      BOOST_TEST(*parsed == t);
    }
    std::string random = random_temp_name(t);
    BOOST_TEST(random.size() == std::string(t).size() + temp_name_overhead());
    auto parsed = parse_temp_name(random);
    BOOST_REQUIRE(parsed);
    BOOST_TEST(*parsed == t);
  }
  BOOST_TEST(random_temp_name("a") != random_temp_name("a"));
  // Slots beyond the writer's, other tags, wrong case, no leading dot: not
  // mutx's temps, whatever they look like.
  for (const char* other : {".a.mutx-4", ".a.mutx-9", ".a.mutx-01", ".a.mutx-", ".a.mutx-ABCDEFGHIJKL",
                            ".a.mutx-abcdefghijk", ".a.mutx-abcdefghijklm", "a.mutx-0", ".mutx-0", "..mutx-0",
                            ".a.mutx-abc-defghijk", ".a.mutx"})
    BOOST_TEST(!parse_temp_name(other).has_value(), other);
}

BOOST_AUTO_TEST_CASE(tree_names) {
  for (const char* t : targets) {
    for (int slot = 0; slot < temp_slots; ++slot) {
      const std::string name = tree_slot_name(t, slot);
      auto parsed = parse_tree_name(name);
      BOOST_REQUIRE(parsed);
      BOOST_TEST(*parsed == t);
      // Never read as a temp or an old generation.
      BOOST_TEST(!parse_temp_name(name).has_value(), name);
      BOOST_TEST(!parse_old_tree_name(name).has_value(), name);
    }
    const std::string random = random_tree_name(t);
    BOOST_TEST(random.size() == std::string(t).size() + tree_name_overhead());
    auto parsed = parse_tree_name(random);
    BOOST_REQUIRE(parsed);
    BOOST_TEST(*parsed == t);
    BOOST_TEST(!parse_temp_name(random).has_value(), random);
    const std::string old = old_tree_name(t);
    auto parsed_old = parse_old_tree_name(old);
    BOOST_REQUIRE(parsed_old);
    BOOST_TEST(*parsed_old == t);
    BOOST_TEST(!parse_temp_name(old).has_value(), old);
    BOOST_TEST(!parse_tree_name(old).has_value(), old);
    // And a temp is never read as a tree.
    BOOST_TEST(!parse_tree_name(temp_slot_name(t, 0)).has_value());
    BOOST_TEST(!parse_old_tree_name(temp_slot_name(t, 0)).has_value());
  }
  BOOST_TEST(random_tree_name("a") != random_tree_name("a"));
  for (const char* other : {".a.mutx-tree-4", ".a.mutx-tree-", ".a.mutx-tree-01", ".a.mutx-tree-ABCDEFGHIJKL",
                            ".a.mutx-tree-abcdefghijk", ".a.mutx-tree-abcdefghijklm", "a.mutx-tree-0", ".mutx-tree-0",
                            "..mutx-tree-0", ".a.mutx-tree", ".a.mutx-tree-0/", ".a.mutx-trees-0", ".a.mutx-0"})
    BOOST_TEST(!parse_tree_name(other).has_value(), other);
  for (const char* other : {".mutx-old", "..mutx-old", "a.mutx-old", ".a.mutx-old2", ".a.mutx-OLD", ".a.mutx-old.x",
                            ".a.mutx-olds", ".a.mutx-ol"})
    BOOST_TEST(!parse_old_tree_name(other).has_value(), other);
  // A check copy of NAME is a temp, never a tree.
  for (const char* t : targets) BOOST_TEST(!parse_tree_name(check_slot_name(t, 0)).has_value());
}

// A check copy keeps NAME's extension and is a temp of NAME: the sweep and
// housekeep remove one a crash left.
BOOST_AUTO_TEST_CASE(check_copy_names) {
  BOOST_TEST(check_slot_name("nginx.conf", 0) == ".nginx.conf.mutx-c0.conf");
  BOOST_TEST(check_slot_name("sudoers", 3) == ".sudoers.mutx-c3");
  BOOST_TEST(check_slot_name(".bashrc", 1) == "..bashrc.mutx-c1");
  BOOST_TEST(check_slot_name("a.tar.gz", 2) == ".a.tar.gz.mutx-c2.gz");
  for (const char* t : targets) {
    for (int slot = 0; slot < temp_slots; ++slot) {
      const std::string name = check_slot_name(t, slot);
      BOOST_TEST(name.ends_with(name_extension(t)));
      auto parsed = parse_temp_name(name);
      BOOST_REQUIRE(parsed);
      // "report.mutx-0" has the extension ".mutx-0": its check copy reads
      // as a temp of a longer NAME too. Either way it is a temp.
      if (std::string_view(t) != "report.mutx-0") BOOST_TEST(*parsed == t);
    }
    std::string random = random_check_name(t);
    BOOST_TEST(random.size() == std::string(t).size() + check_name_overhead(t));
    auto parsed = parse_temp_name(random);
    BOOST_REQUIRE(parsed);
    if (std::string_view(t) != "report.mutx-0") BOOST_TEST(*parsed == t);
  }
  // Other extensions, other tags: not a check copy of anything.
  for (const char* other : {".a.conf.mutx-c0.json", ".a.conf.mutx-c0", ".a.mutx-c4", ".a.mutx-c", ".a.mutx-cc0",
                            ".a.mutx-c0.", "a.conf.mutx-c0.conf", ".a.mutx-C0"})
    BOOST_TEST(!parse_temp_name(other).has_value(), other);
}

// Under an etcd lease where other hosts may mount the directory, a temp
// and a check copy are named after the writer's lease; the lease comes back
// from the name, and look-alikes are not temps at all.
BOOST_AUTO_TEST_CASE(lease_temp_names) {
  BOOST_TEST(lease_temp_name("f", 0x694d8a4b8a2b6c0e) == ".f.mutx-e694d8a4b8a2b6c0e");
  BOOST_TEST(lease_temp_name("f", 1) == ".f.mutx-e0000000000000001");
  BOOST_TEST(lease_check_name("nginx.conf", 0x7fffffffffffffff) == ".nginx.conf.mutx-ce7fffffffffffffff.conf");
  BOOST_TEST(lease_check_name("sudoers", 255) == ".sudoers.mutx-ce00000000000000ff");
  const std::int64_t leases[] = {1, 0xabcdef, 0x694d8a4b8a2b6c0e, 0x7fffffffffffffff, 8702821785534982151};
  for (const char* t : targets) {
    for (std::int64_t lease : leases) {
      const std::string temp = lease_temp_name(t, lease);
      BOOST_TEST(temp.size() == std::string(t).size() + temp_name_overhead(true));
      auto parsed = parse_temp(temp);
      BOOST_REQUIRE(parsed);
      BOOST_TEST(parsed->target == t);
      BOOST_TEST(parsed->lease == lease);
      BOOST_TEST(!parsed->check);
      BOOST_TEST(*parse_temp_name(temp) == t);
      BOOST_TEST(!parse_tree_name(temp).has_value(), temp);
      BOOST_TEST(!parse_lock_name(temp).has_value(), temp);

      const std::string check = lease_check_name(t, lease);
      BOOST_TEST(check.size() == std::string(t).size() + check_name_overhead(t, true));
      BOOST_TEST(check.ends_with(name_extension(t)));
      auto pc = parse_temp(check);
      BOOST_REQUIRE(pc);
      BOOST_TEST(pc->lease == lease);
      BOOST_TEST(pc->check);
      // Also for "report.mutx-0", whose copy reads as a slot temp of a
      // longer NAME too: the lease reading wins.
      BOOST_TEST(pc->target == t);
    }
    // The other forms carry no lease.
    BOOST_TEST(parse_temp(temp_slot_name(t, 0))->lease == 0);
    BOOST_TEST(parse_temp(random_temp_name(t))->lease == 0);
    BOOST_TEST(parse_temp(check_slot_name(t, 1))->lease == 0);
    BOOST_TEST(parse_temp(random_check_name(t))->lease == 0);
  }
  BOOST_TEST(temp_name_overhead(true) > temp_name_overhead());
  // Wrong length, uppercase or non-hex digits, no lease (0) or one etcd
  // cannot grant (the top bit), extra suffixes, other tags: not temps.
  for (const char* other :
       {".f.mutx-e694d8a4b8a2b6c0", ".f.mutx-e694d8a4b8a2b6c0e0", ".f.mutx-e694D8A4B8A2B6C0E", ".f.mutx-e694d8a4b8a2b6c0g",
        ".f.mutx-e694d8a4b8a2b6c0-", ".f.mutx-e0000000000000000", ".f.mutx-e8000000000000000",
        ".f.mutx-effffffffffffffff", ".f.mutx-e694d8a4b8a2b6c0e.bak", ".f.mutx-e694d8a4b8a2b6c0e~", ".f.mutx-e",
        ".f.mutx-E694d8a4b8a2b6c0e", ".f.mutx-x694d8a4b8a2b6c0e", ".f.mutx-ee694d8a4b8a2b6c0e", "f.mutx-e694d8a4b8a2b6c0e",
        ".mutx-e694d8a4b8a2b6c0e", ".f.mutx-e 694d8a4b8a2b6c0e", ".f.mutx-ce694d8a4b8a2b6c0", ".f.mutx-cE694d8a4b8a2b6c0e",
        ".a.conf.mutx-ce694d8a4b8a2b6c0e", ".a.conf.mutx-ce694d8a4b8a2b6c0e.json", ".f.mutx-ce694d8a4b8a2b6c0e.bak"})
    BOOST_TEST(!parse_temp(other).has_value(), other);
}

BOOST_AUTO_TEST_CASE(backup_names) {
  for (const char* t : targets) {
    for (const char* suffix : {".backup", ".bak", "~"}) {
      const std::string plain_name = plain_backup_name(t, suffix);
      auto plain = parse_backup_name(plain_name, suffix);
      BOOST_REQUIRE(plain);
      BOOST_TEST(plain->stem == t);
      for (int counter : {0, 1, 12, 999, 1000}) {
        const std::time_t when = 1767225600 + 3599;  // 2026-01-01 00:59:59 UTC
        std::string name = timestamped_backup_name(t, when, counter, suffix);
        auto ts = parse_backup_name(name, suffix);
        BOOST_REQUIRE(ts);
        BOOST_TEST(ts->timestamped);
        BOOST_TEST(ts->original == t);
        BOOST_TEST(ts->epoch_utc == when);
        BOOST_TEST(ts->counter == (counter == 0 ? -1 : counter));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(timestamps_are_utc_whatever_the_zone) {
  ::setenv("TZ", "America/New_York", 1);
  ::tzset();
  BOOST_TEST(timestamped_backup_name("f", 1767225600, 0, ".backup") == "f.20260101-000000.backup");
  ::setenv("TZ", "Asia/Kolkata", 1);
  ::tzset();
  BOOST_TEST(timestamped_backup_name("f", 1767225600, 2, ".backup") == "f.20260101-000000_002.backup");
}

BOOST_AUTO_TEST_CASE(generations_sort_by_name_in_time_order) {
  std::string a = timestamped_backup_name("f", 1767225600, 0, ".backup");
  std::string b = timestamped_backup_name("f", 1767225600, 1, ".backup");
  std::string c = timestamped_backup_name("f", 1767225601, 0, ".backup");
  BOOST_TEST((a < b), a << " < " << b);
  BOOST_TEST((b < c), b << " < " << c);
}

BOOST_AUTO_TEST_CASE(a_generation_is_proven_by_its_ctime) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  const auto b = parse_backup_name("dump.20260101-000000_001.backup", ".backup");
  BOOST_REQUIRE(b.has_value());
  const std::int64_t named = 1767225600;
  BOOST_TEST(generation_stamp(*b, named).value_or(-1) == named);
  BOOST_TEST(generation_stamp(*b, named - 60).value_or(-1) == named);
  BOOST_TEST(generation_stamp(*b, named + 600).value_or(-1) == named);
  BOOST_TEST(!generation_stamp(*b, named - 61).has_value());
  BOOST_TEST(!generation_stamp(*b, named + 601).has_value());
  // Earlier mutx's local-time names, read in the zone they were written in.
  ::setenv("TZ", "Asia/Tokyo", 1);
  ::tzset();
  BOOST_TEST(generation_stamp(*b, named - 9 * 3600).value_or(-1) == named - 9 * 3600);
  // A plain name proves nothing.
  BOOST_TEST(!generation_stamp(*parse_backup_name("dump.backup", ".backup"), named).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
