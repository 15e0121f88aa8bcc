// Per-address bookkeeping that bounds what one client address can take:
// open connections (AddressSlots) and failed admin authorisations
// (FailureThrottle). Both hold a bounded amount of state whatever arrives.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>

namespace compeit::native {

class AddressSlots {
public:
    // One connection's claim on its address; releasing it (destruction)
    // frees the place. Empty when the address had no place left.
    class Slot {
    public:
        Slot() = default;
        Slot(Slot&& o) noexcept : counts_(std::move(o.counts_)), address_(std::move(o.address_)) {}
        Slot& operator=(Slot&& o) noexcept;
        ~Slot() { release(); }
        explicit operator bool() const { return counts_ != nullptr; }

    private:
        friend class AddressSlots;
        using Counts = std::unordered_map<std::string, std::size_t>;
        std::shared_ptr<Counts> counts_;  // shared: a slot may outlive the server's table
        std::string address_;
        void release();
    };

    // max_per_address 0: no limit (connections are still counted).
    explicit AddressSlots(std::size_t max_per_address);
    // `unlimited`: counted, never refused (a trusted proxy's connections
    // carry many clients; --trusted-proxy).
    Slot claim(const std::string& address, bool unlimited = false);
    std::size_t addresses() const { return counts_->size(); }

private:
    std::size_t max_;
    std::shared_ptr<Slot::Counts> counts_;
};

// Failed attempts per address in a sliding window; an address over the limit
// is refused until its window ends. At most kMaxAddresses are tracked: when
// full, the oldest window is forgotten.
class FailureThrottle {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::size_t kMaxAddresses = 10'000;

    FailureThrottle(unsigned max_failures, Clock::duration window) : max_(max_failures), window_(window) {}
    bool blocked(const std::string& address, Clock::time_point now);
    void failed(const std::string& address, Clock::time_point now);

private:
    struct Entry {
        Clock::time_point since;
        unsigned failures = 0;
    };
    unsigned max_;
    Clock::duration window_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace compeit::native
