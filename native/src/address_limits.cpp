#include "address_limits.hpp"

#include <algorithm>

namespace compeit::native {

AddressSlots::Slot& AddressSlots::Slot::operator=(Slot&& o) noexcept {
    if (this != &o) {
        release();
        counts_ = std::move(o.counts_);
        address_ = std::move(o.address_);
    }
    return *this;
}

void AddressSlots::Slot::release() {
    if (!counts_) return;
    const auto it = counts_->find(address_);
    if (it != counts_->end() && --it->second == 0) counts_->erase(it);
    counts_.reset();
}

AddressSlots::AddressSlots(std::size_t max_per_address)
    : max_(max_per_address), counts_(std::make_shared<Slot::Counts>()) {}

AddressSlots::Slot AddressSlots::claim(const std::string& address, bool unlimited) {
    std::size_t& n = (*counts_)[address];
    if (!unlimited && max_ != 0 && n >= max_) return {};
    ++n;
    Slot s;
    s.counts_ = counts_;
    s.address_ = address;
    return s;
}

bool FailureThrottle::blocked(const std::string& address, Clock::time_point now) {
    const auto it = entries_.find(address);
    if (it == entries_.end()) return false;
    if (now - it->second.since >= window_) {
        entries_.erase(it);
        return false;
    }
    return it->second.failures >= max_;
}

void FailureThrottle::failed(const std::string& address, Clock::time_point now) {
    auto it = entries_.find(address);
    if (it == entries_.end()) {
        if (entries_.size() >= kMaxAddresses) {
            const auto oldest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
                return a.second.since < b.second.since;
            });
            entries_.erase(oldest);
        }
        it = entries_.emplace(address, Entry{now, 0}).first;
    } else if (now - it->second.since >= window_) {
        it->second = Entry{now, 0};
    }
    ++it->second.failures;
}

}  // namespace compeit::native
