// Latencies in fixed buckets (seconds), for a Prometheus histogram: plain
// counts, bumped on the network thread, read at scrape time.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

namespace compeit::native {

class LatencyHistogram {
public:
    static constexpr std::array<double, 12> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                       0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
    void observe(std::chrono::steady_clock::duration d) {
        const double s = std::chrono::duration<double>(d).count();
        const auto bucket = std::lower_bound(kBounds.begin(), kBounds.end(), s) - kBounds.begin();
        ++counts_[static_cast<std::size_t>(bucket)];
        ++count_;
        sum_ += s;
    }
    // Per bucket (not cumulative); the last one counts what is above every bound.
    const std::array<std::uint64_t, kBounds.size() + 1>& counts() const { return counts_; }
    std::uint64_t count() const { return count_; }
    double sum_seconds() const { return sum_; }

private:
    std::array<std::uint64_t, kBounds.size() + 1> counts_{};
    std::uint64_t count_ = 0;
    double sum_ = 0;
};

}  // namespace compeit::native
