#include "mutx/stop.hpp"  // first: the header stands alone

#define BOOST_TEST_MODULE stop
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

using mutx::stop_source;

BOOST_AUTO_TEST_SUITE(stop_request)

BOOST_AUTO_TEST_CASE(nothing_is_stopped_until_asked) {
  stop_source s;
  int calls = 0;
  auto reg = s.on_stop([&] { ++calls; });
  BOOST_TEST(!s.stop_requested());
  BOOST_TEST(s.signal() == 0);
  BOOST_TEST(calls == 0);
}

BOOST_AUTO_TEST_CASE(every_registered_callback_runs_once_in_order_with_the_signal_known) {
  stop_source s;
  std::vector<std::string> ran;
  int seen_signal = -1;
  auto a = s.on_stop([&] {
    ran.push_back("lock wait");
    seen_signal = s.signal();
  });
  auto b = s.on_stop([&] { ran.push_back("pipe read"); });
  auto c = s.on_stop([&] { ran.push_back("command"); });
  s.request_stop(SIGTERM);
  BOOST_TEST(s.stop_requested());
  BOOST_TEST(s.signal() == SIGTERM);
  BOOST_TEST(seen_signal == SIGTERM);  // callbacks can forward it (to the command)
  BOOST_TEST(ran == (std::vector<std::string>{"lock wait", "pipe read", "command"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_second_request_runs_nothing_again_and_keeps_the_first_signal) {
  stop_source s;
  int calls = 0;
  auto reg = s.on_stop([&] { ++calls; });
  s.request_stop(SIGINT);
  s.request_stop(SIGHUP);
  BOOST_TEST(calls == 1);
  BOOST_TEST(s.signal() == SIGINT);
}

BOOST_AUTO_TEST_CASE(a_request_without_a_signal_still_stops) {
  stop_source s;
  int calls = 0;
  auto reg = s.on_stop([&] { ++calls; });
  s.request_stop();
  BOOST_TEST(s.stop_requested());
  BOOST_TEST(s.signal() == 0);
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(registering_after_the_request_runs_the_callback_at_once) {
  // A wait that starts after the signal must not wait: the signal may land
  // between two reads.
  stop_source s;
  s.request_stop(SIGTERM);
  int calls = 0;
  auto reg = s.on_stop([&] { ++calls; });
  BOOST_TEST(calls == 1);
  s.request_stop(SIGTERM);
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stop_registration)

BOOST_AUTO_TEST_CASE(a_dropped_registration_is_never_called) {
  stop_source s;
  int dropped = 0, kept = 0;
  auto k = s.on_stop([&] { ++kept; });
  { auto d = s.on_stop([&] { ++dropped; }); }
  s.request_stop(SIGTERM);
  BOOST_TEST(dropped == 0);
  BOOST_TEST(kept == 1);
}

BOOST_AUTO_TEST_CASE(reset_unregisters_and_may_be_repeated) {
  stop_source s;
  int calls = 0;
  auto reg = s.on_stop([&] { ++calls; });
  reg.reset();
  reg.reset();
  s.request_stop(SIGTERM);
  BOOST_TEST(calls == 0);
}

BOOST_AUTO_TEST_CASE(a_moved_registration_unregisters_once_from_its_new_owner) {
  stop_source s;
  int first = 0, second = 0;
  std::optional<stop_source::registration> owner;
  {
    auto r = s.on_stop([&] { ++first; });
    owner.emplace(std::move(r));
  }  // the moved-from one unregisters nothing
  stop_source::registration other = s.on_stop([&] { ++second; });
  other = std::move(*owner);  // drops the second callback, takes over the first
  owner.reset();
  s.request_stop(SIGTERM);
  BOOST_TEST(first == 1);
  BOOST_TEST(second == 0);
  other.reset();
  BOOST_TEST(first == 1);
}

BOOST_AUTO_TEST_CASE(self_move_assignment_keeps_the_registration) {
  stop_source s;
  int calls = 0;
  auto reg = s.on_stop([&] { ++calls; });
  auto& same = reg;
  reg = std::move(same);
  s.request_stop(SIGTERM);
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(a_callback_may_drop_registrations_while_the_request_runs) {
  // Cancelling a wait can end the coroutine that registered another one.
  // Under the sanitizer this also proves no freed list node is touched.
  stop_source s;
  int calls = 0;
  std::optional<stop_source::registration> own, other;
  own = s.on_stop([&] {
    ++calls;
    own.reset();
    other.reset();
  });
  other = s.on_stop([&] { ++calls; });
  s.request_stop(SIGTERM);
  BOOST_TEST(calls >= 1);
  BOOST_TEST(!own.has_value());
  BOOST_TEST(!other.has_value());
}

BOOST_AUTO_TEST_CASE(a_callback_that_registers_another_sees_it_run_at_once) {
  stop_source s;
  std::vector<std::string> ran;
  stop_source::registration inner;
  auto outer = s.on_stop([&] {
    ran.push_back("outer");
    inner = s.on_stop([&] { ran.push_back("inner"); });
  });
  s.request_stop(SIGINT);
  BOOST_TEST(ran == (std::vector<std::string>{"outer", "inner"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
