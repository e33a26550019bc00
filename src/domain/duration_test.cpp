#include "domain/duration.hpp"

#include <gtest/gtest.h>

namespace v2m::domain {
namespace {

TEST(ParseDuration, UnitsAndSums) {
    EXPECT_EQ(ParseDuration("90")->count(), 90);
    EXPECT_EQ(ParseDuration("90s")->count(), 90);
    EXPECT_EQ(ParseDuration("15m")->count(), 900);
    EXPECT_EQ(ParseDuration("1h")->count(), 3600);
    EXPECT_EQ(ParseDuration("6h")->count(), 21600);
    EXPECT_EQ(ParseDuration("2d")->count(), 172800);
    EXPECT_EQ(ParseDuration("1h30m")->count(), 5400);
    EXPECT_EQ(ParseDuration("0")->count(), 0);
}

TEST(ParseDuration, RejectsOthers) {
    for (const char* bad : {"", "h", "-1h", "1x", "1h30", "1.5h", " 1h", "99999999999999999999", "1hh"}) {
        EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
    }
}

}  // namespace
}  // namespace v2m::domain
