// A room message's fan-out in one system call (issue 20): while the engine
// flushes, every websocket's gathered write is queued here as an io_uring
// sendmsg instead of being made at once, and the whole flush is submitted
// with one io_uring_enter when it ends. Each write is non-blocking
// (MSG_DONTWAIT: the kernel answers at once, as the plain path's sendmsg
// does), and its result goes back to its WsSession, which carries on exactly
// as after its own sendmsg: consume what was taken, wait for writability for
// the rest. So per-connection order holds (one write in flight per
// connection, queued bytes go out in order) and per-room order holds (a flush
// is submitted and completed before the event loop runs anything else).
//
// `--io-uring on` makes one; without liburing at build time, or when the
// kernel refuses a ring, there is none and every write is the plain sendmsg.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace compeit::native {

class WsSession;

class WriteBatch {
public:
    // Null, with the reason in `why`, when io_uring is unavailable.
    static std::unique_ptr<WriteBatch> create(std::string& why);
    ~WriteBatch();
    WriteBatch(const WriteBatch&) = delete;
    WriteBatch& operator=(const WriteBatch&) = delete;

    // Between begin() and end(), writes may be queued with add().
    void begin() { open_ = true; }
    void end();
    bool open() const { return open_ && !reaping_; }

    // Queues a sendmsg of `iov[0..count)` on `fd` for `owner`, whose
    // on_batched_write(result, entries) hears the result (bytes, or -errno).
    // The iovecs and what they point at must stay put until then.
    void add(int fd, const iovec* iov, std::size_t count, std::size_t entries, std::shared_ptr<WsSession> owner);
    // Submits what is queued and hands every result back (also mid-flush,
    // when a connection with a write queued must change its queue).
    void submit();

private:
    struct Ring;
    struct Entry {
        msghdr msg{};
        std::size_t entries = 0;
        std::shared_ptr<WsSession> owner;
    };
    explicit WriteBatch(std::unique_ptr<Ring> ring);

    std::unique_ptr<Ring> ring_;
    std::vector<Entry> queued_;  // reserved to the ring's size: msghdr addresses stay put
    bool open_ = false;
    bool reaping_ = false;
};

}  // namespace compeit::native
