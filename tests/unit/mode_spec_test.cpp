#include "mutx/mode_spec.hpp"  // first: the header stands alone

#define BOOST_TEST_MODULE mode_spec
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

using mutx::mode_spec;

namespace {

// `text` applied to `old` under `umask`; 0177777 when it does not parse.
mode_t apply(const char* text, mode_t old, mode_t umask = 022) {
  auto m = mode_spec::parse(text);
  return m ? m->apply(old, umask) : 0177777;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mode_spec_rules)

BOOST_AUTO_TEST_CASE(octal_is_absolute_and_touches_every_bit) {
  auto m = mode_spec::parse("0640");
  BOOST_REQUIRE(m);
  mode_t touched = 0;
  BOOST_TEST(m->apply(04777, 022, &touched) == 0640u);
  BOOST_TEST(touched == 07777u);
  BOOST_TEST((m->absolute() == mode_t(0640)));
  BOOST_TEST(m->text() == "0640");
  BOOST_TEST(mode_spec(0600).text() == "0600");
}

BOOST_AUTO_TEST_CASE(symbolic_clauses_change_the_old_mode) {
  BOOST_TEST(apply("u=rw,go=r", 0777) == 0644u);
  BOOST_TEST(apply("a+x", 0644) == 0755u);
  BOOST_TEST(apply("g-w", 0664) == 0644u);
  BOOST_TEST(apply("u+s", 0755) == 04755u);
  BOOST_TEST(apply("go=u", 0700) == 0777u);
  BOOST_TEST(apply("a+X", 0644) == 0644u);  // no execute bit yet: X adds none
  BOOST_TEST(apply("a+X", 0744) == 0755u);
  BOOST_TEST(apply("u=rwx,g=rx,o=", 0) == 0750u);
  BOOST_TEST(apply("a=r,u+w", 0777) == 0644u);
  BOOST_TEST(!mode_spec::parse("g-w")->absolute());
}

BOOST_AUTO_TEST_CASE(a_clause_without_a_class_leaves_the_umask_bits_alone) {
  BOOST_TEST(apply("+x", 0644, 022) == 0755u);
  BOOST_TEST(apply("+w", 0444, 022) == 0644u);
  BOOST_TEST(apply("-w", 0666, 022) == 0466u);
  BOOST_TEST(apply("=r", 0777, 027) == 0440u);  // '=' clears all, sets what the umask allows
  BOOST_TEST(apply("=", 04777) == 0u);
}

BOOST_AUTO_TEST_CASE(touched_tells_bits_asked_for_from_bits_kept) {
  mode_t touched = 0;
  BOOST_TEST(mode_spec::parse("g-w")->apply(04775, 022, &touched) == 04755u);
  BOOST_TEST(touched == mode_t(S_IWGRP));
  BOOST_TEST(mode_spec::parse("u+s")->apply(0755, 022, &touched) == 04755u);
  BOOST_TEST((touched & S_ISUID) != 0u);
}

BOOST_AUTO_TEST_CASE(what_chmod_refuses_does_not_parse) {
  for (const char* bad : {"", "u", "x", "u=rwx,", ",u+x", "g+z", "8", "0788", "77777", "u=r,,g=r", "ua", "u+=r,x", "u+644"})
    BOOST_TEST(!mode_spec::parse(bad), "'" << bad << "' parsed");
  for (const char* good : {"+", "=", "u+", "=644", "+020", "a+rw-x", "u=w+x-w", "o=g"})
    BOOST_TEST(mode_spec::parse(good).has_value(), "'" << good << "' did not parse");
}

BOOST_AUTO_TEST_SUITE_END()
