#include "reconcile/expectations.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace sluice::reconcile {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

TEST(ExpectationsTest, NoRecordIsSatisfied) {
  FakeClock clock;
  Expectations expectations(clock);
  EXPECT_TRUE(expectations.satisfied("ns/fn"));
  EXPECT_EQ(expectations.pending("ns/fn"), std::make_pair(0, 0));
}

TEST(ExpectationsTest, CreationsMustAllBeObserved) {
  FakeClock clock;
  Expectations expectations(clock);
  expectations.expectCreations("ns/fn", 3);
  EXPECT_FALSE(expectations.satisfied("ns/fn"));
  expectations.creationObserved("ns/fn");
  expectations.creationObserved("ns/fn");
  EXPECT_FALSE(expectations.satisfied("ns/fn"));
  EXPECT_EQ(expectations.pending("ns/fn"), std::make_pair(1, 0));
  expectations.creationObserved("ns/fn");
  EXPECT_TRUE(expectations.satisfied("ns/fn"));
  EXPECT_TRUE(expectations.satisfied("ns/other"));
}

TEST(ExpectationsTest, DeletionsAndCreationsTogether) {
  FakeClock clock;
  Expectations expectations(clock);
  expectations.expect("ns/fn", 1, 2);
  expectations.creationObserved("ns/fn");
  EXPECT_FALSE(expectations.satisfied("ns/fn"));
  expectations.deletionObserved("ns/fn");
  expectations.deletionObserved("ns/fn");
  EXPECT_TRUE(expectations.satisfied("ns/fn"));
}

TEST(ExpectationsTest, RaiseAddsToOutstandingCounts) {
  FakeClock clock;
  Expectations expectations(clock);
  expectations.expectDeletions("ns/fn", 1);
  expectations.raise("ns/fn", 2, 1);
  EXPECT_EQ(expectations.pending("ns/fn"), std::make_pair(2, 2));
}

TEST(ExpectationsTest, ExpiresAfterTtlSoALostEventCannotWedgeTheOwner) {
  FakeClock clock;
  Expectations expectations(clock, 5min);
  expectations.expectCreations("ns/fn", 1);
  clock.advance(5min);
  EXPECT_FALSE(expectations.satisfied("ns/fn"));
  clock.advance(1s);
  EXPECT_TRUE(expectations.satisfied("ns/fn"));
}

TEST(ExpectationsTest, ForgetDropsTheRecordAndObservationsWithoutRecordAreIgnored) {
  FakeClock clock;
  Expectations expectations(clock);
  expectations.expectCreations("ns/fn", 2);
  expectations.forget("ns/fn");
  EXPECT_TRUE(expectations.satisfied("ns/fn"));
  expectations.creationObserved("ns/fn");
  EXPECT_EQ(expectations.pending("ns/fn"), std::make_pair(0, 0));
}

}  // namespace
}  // namespace sluice::reconcile
