#include "write_batch.hpp"

#include "ws_session.hpp"

#ifdef COMPEIT_HAVE_IO_URING
#include <liburing.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#endif

namespace compeit::native {

namespace {
constexpr unsigned kRingEntries = 1024;  // writes per io_uring_enter; a larger flush is submitted in parts
}

#ifdef COMPEIT_HAVE_IO_URING

struct WriteBatch::Ring {
    io_uring ring{};
    bool up = false;
    std::uint32_t round = 0;  // tags a submission's results: a late one from an earlier round is ignored
    ~Ring() {
        if (up) io_uring_queue_exit(&ring);
    }
};

std::unique_ptr<WriteBatch> WriteBatch::create(std::string& why) {
    auto ring = std::make_unique<Ring>();
    if (const int rc = io_uring_queue_init(kRingEntries, &ring->ring, 0); rc < 0) {
        why = std::string("io_uring_queue_init: ") + std::strerror(-rc);
        return nullptr;
    }
    ring->up = true;
    return std::unique_ptr<WriteBatch>(new WriteBatch(std::move(ring)));
}

WriteBatch::WriteBatch(std::unique_ptr<Ring> ring) : ring_(std::move(ring)) { queued_.reserve(kRingEntries); }

WriteBatch::~WriteBatch() = default;

void WriteBatch::add(int fd, const iovec* iov, std::size_t count, std::size_t entries,
                     std::shared_ptr<WsSession> owner) {
    if (queued_.size() == kRingEntries) submit();
    Entry& e = queued_.emplace_back();
    e.msg.msg_iov = const_cast<iovec*>(iov);
    e.msg.msg_iovlen = count;
    e.entries = entries;
    e.owner = std::move(owner);
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_->ring);  // never null: at most kRingEntries queued
    // MSG_DONTWAIT: the kernel answers at once (-EAGAIN when the socket is
    // full) instead of parking the request, as the plain path's sendmsg does.
    io_uring_prep_sendmsg(sqe, fd, &e.msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    io_uring_sqe_set_data64(sqe, (std::uint64_t{ring_->round} << 32) | (queued_.size() - 1));
}

void WriteBatch::submit() {
    if (queued_.empty() || reaping_) return;
    const auto n = static_cast<unsigned>(queued_.size());
    std::vector<int> results(n, -ECANCELED);
    const std::uint32_t round = ring_->round++;
    unsigned seen = 0;
    int rc = io_uring_submit_and_wait(&ring_->ring, n);
    while ((rc >= 0 || rc == -EINTR) && seen < n) {
        io_uring_cqe* cqe = nullptr;
        unsigned head = 0, count = 0;
        io_uring_for_each_cqe(&ring_->ring, head, cqe) {
            const auto tag = io_uring_cqe_get_data64(cqe);
            const auto index = tag & 0xffffffffu;
            if ((tag >> 32) == round && index < n) {
                results[index] = cqe->res;
                ++seen;
            }
            ++count;
        }
        io_uring_cq_advance(&ring_->ring, count);
        if (seen < n) rc = io_uring_wait_cqe_nr(&ring_->ring, &cqe, n - seen);
    }
    // A failed ring (it should not): the writes left without a result end their connections.
    // The owners may queue more (and even reach this batch again): from here
    // on their writes are plain sendmsg calls until this hand-back is done.
    reaping_ = true;
    std::vector<Entry> done;
    done.swap(queued_);
    queued_.reserve(kRingEntries);
    for (unsigned i = 0; i < n; ++i) done[i].owner->on_batched_write(results[i], done[i].entries);
    reaping_ = false;
}

#else  // built without liburing

struct WriteBatch::Ring {};

std::unique_ptr<WriteBatch> WriteBatch::create(std::string& why) {
    why = "built without liburing (COMPEIT_IO_URING=OFF or liburing-dev missing)";
    return nullptr;
}

WriteBatch::WriteBatch(std::unique_ptr<Ring> ring) : ring_(std::move(ring)) {}
WriteBatch::~WriteBatch() = default;
void WriteBatch::add(int, const iovec*, std::size_t, std::size_t, std::shared_ptr<WsSession>) {}
void WriteBatch::submit() {}

#endif

void WriteBatch::end() {
    submit();
    open_ = false;
}

}  // namespace compeit::native
