#include "ws_session.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <cerrno>

#include "log.hpp"
#include "secrets.hpp"
#include "server.hpp"
#include "tls_stream.hpp"
#include "write_batch.hpp"
#include "ws_accept.hpp"

namespace compeit::native {

namespace asio = boost::asio;

namespace {
constexpr std::size_t kReadChunk = 16 * 1024;  // per wake-up: bounds how fast one sender is taken in

// One receive buffer for every websocket (there is one network thread): an
// idle connection holds no read buffer of its own, only what its decoder keeps.
char g_read_buffer[kReadChunk];
constexpr std::size_t kMaxGather = 64;  // entries per write (two buffers each)
constexpr sio::Time kStallTime{5'000};  // no progress this long, over the queue limit: dropped
constexpr std::size_t kBurstBytes = 1u << 20;  // a queue that held this much reports it when it empties
constexpr std::size_t kTlsChunk = 64 * 1024;  // bytes per TLS write: progress is seen as the client reads
}  // namespace

struct WsSession::Tls {
    explicit Tls(TlsConnection&& c) : conn(std::move(c)) {}
    TlsConnection conn;
    std::string out;  // the write in flight: a copy, as the queue may grow (and move) meanwhile
    std::array<char, kReadChunk> in{};  // the read in flight owns its buffer until it completes
};

WsSession::WsSession(asio::ip::tcp::socket socket, Server& server, std::string leftover, AddressSlots::Slot slot)
    : socket_(std::move(socket)),
      server_(server),
      slot_(std::move(slot)),
      decoder_(server.options().max_frame_bytes, ws::From::client) {
    if (!leftover.empty()) decoder_.feed(leftover);
}

WsSession::WsSession(TlsConnection&& tls, Server& server, std::string leftover, AddressSlots::Slot slot)
    : socket_(tls.tcp().get_executor()),
      tls_(std::make_unique<Tls>(std::move(tls))),
      server_(server),
      slot_(std::move(slot)),
      decoder_(server.options().max_frame_bytes, ws::From::client) {
    if (!leftover.empty()) decoder_.feed(leftover);
}

WsSession::~WsSession() = default;

void WsSession::start(const std::string& client_key, const std::string& sid, const std::string& address,
                      const std::string& peer) {
    peer_ = peer;
    tag_ = sid_tag(sid);
    boost::system::error_code ec;
    if (!tls_) socket_.non_blocking(true, ec);  // reads and writes are attempted directly
    push_raw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: " + ws::accept_key(client_key) + "\r\n\r\n");
    auto& engine = server_.engine();
    const sio::SessionId id = engine.find(sid, address);
    if (id != 0) {
        server_.attach_ws(id, shared_from_this());
        session_ = id;
        if (engine.open_websocket(id, server_.now())) {
            read();
            on_bytes({});  // frames that came with the upgrade request
            return;
        }
        server_.detach_ws(id);
        session_ = 0;
    }
    log_event(LogLevel::info,
              LogFields{.event = "websocket_refused", .session = tag_, .transport = "websocket", .remote = peer_},
              "websocket refused for session ", tag_, " from ", peer_);
    push_control(ws::Opcode::text, engine.refusal(id));
    finish();
}

void WsSession::start_link(const std::string& client_key, std::shared_ptr<LinkPeer> link, const std::string& peer) {
    peer_ = peer;
    link_ = std::move(link);
    boost::system::error_code ec;
    if (!tls_) socket_.non_blocking(true, ec);
    push_raw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: " + ws::accept_key(client_key) + "\r\n\r\n");
    write();
    read();
    on_bytes({});
}

void WsSession::read() {
    if (closed_) return;
    if (over_limit()) {  // backpressure: read again once the client has taken its queue
        read_paused_ = true;
        return watch();
    }
    if (tls_) return read_tls();
    // Wait for readability, then read once into the shared buffer (see
    // g_read_buffer). One read per wake-up, so a flooding sender cannot keep
    // the loop from writing to everyone else.
    socket_.async_wait(asio::ip::tcp::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
        if (self->closed_) return;
        std::size_t n = 0;
        if (!ec) n = self->socket_.read_some(asio::buffer(g_read_buffer), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) return self->read();
        if (ec) {
            self->detach(true);
            return self->close_socket();
        }
        self->on_bytes(std::string_view(g_read_buffer, n));
        self->read();
    });
}

void WsSession::read_tls() {
    tls_->conn.stream.async_read_some(asio::buffer(tls_->in), [self = shared_from_this()](boost::system::error_code ec,
                                                                                           std::size_t n) {
        if (self->closed_) return;
        if (ec) {
            self->detach(true);
            return self->close_socket();
        }
        self->on_bytes(std::string_view(self->tls_->in.data(), n));
        self->read();
    });
}

void WsSession::on_bytes(std::string_view bytes) {
    if (!bytes.empty()) decoder_.feed(bytes);
    auto& engine = server_.engine();
    while (!closed_ && !closing_) {
        auto next = decoder_.next();
        if (!next) return fail(next.error());
        if (!*next) return;
        ws::Message& m = **next;
        switch (m.opcode) {
            case ws::Opcode::text:
                if (session_) engine.on_ws_text(session_, m.payload, server_.now());
                else if (link_) link_->on_text(m.payload);
                break;
            case ws::Opcode::ping:
                push_control(ws::Opcode::pong, std::move(m.payload));
                break;
            case ws::Opcode::close:
                // Answer the close, then treat it as the transport going away.
                push_control(ws::Opcode::close, m.payload.size() >= 2 ? m.payload.substr(0, 2) : std::string());
                detach(true);
                closing_ = true;
                write();
                return;
            case ws::Opcode::pong:
                if (link_) link_->on_pong();
                break;
            default:
                break;  // binary frames and pongs carry nothing for socket.io 0.9
        }
    }
}

void WsSession::fail(ws::Error error) {
    log_event(LogLevel::info,
              LogFields{.event = "websocket_failed", .session = tag_, .transport = "websocket", .remote = peer_},
              "websocket ", peer_, " failed: close code ", static_cast<int>(error));
    push_control(ws::Opcode::close, ws::close_payload(static_cast<std::uint16_t>(error)));
    detach(true);
    closing_ = true;
    write();
}

void WsSession::detach(bool transport_lost) {
    if (auto link = std::move(link_)) link->on_close();
    if (!session_) return;
    const auto id = session_;
    session_ = 0;
    server_.detach_ws(id);
    if (transport_lost) server_.engine().on_transport_closed(id, server_.now());
}

void WsSession::send(std::vector<sio::Frame>&& frames) {
    if (closed_ || closing_) return;
    for (auto& f : frames) {
        const auto header = ws::make_header(ws::Opcode::text, f->size());
        enqueue(Out{std::move(f), header});
    }
    if (stalled()) return drop("does not read");
    write();
}

void WsSession::push_raw(std::string bytes) { enqueue(Out{sio::make_frame(std::move(bytes)), ws::Header{}}); }

void WsSession::push_control(ws::Opcode op, std::string payload) {
    const auto header = ws::make_header(op, payload.size());
    enqueue(Out{sio::make_frame(std::move(payload)), header});
    if (stalled()) return drop("does not read");
    write();
}

// Every byte that waits for the client is counted here, and nowhere else.
void WsSession::enqueue(Out out) {
    settle_batch();
    if (queue_.empty()) last_progress_ = server_.now();  // the stall clock runs only while something waits
    queued_bytes_ += out.header.size + out.data->size();
    peak_queued_ = std::max(peak_queued_, queued_bytes_);
    queue_.push_back(std::move(out));
}

// A queue that held a burst tells the server when it lets go of it, so that
// the server returns the memory to the system (Server::memory_released).
void WsSession::burst_over() {
    if (peak_queued_ >= kBurstBytes) server_.memory_released(peak_queued_);
    peak_queued_ = 0;
}

// Dropped; deferred so the engine is not re-entered mid-flush.
void WsSession::drop(const char* why) {
    if (closed_) return;
    log_event(LogLevel::warn,
              LogFields{.event = "slow_reader_dropped", .session = tag_, .transport = "websocket", .reason = why,
                        .remote = peer_},
              "websocket ", peer_, " ", why, ": dropped with ", queued_bytes_, " bytes queued");
    ++server_.stats().dropped_slow_readers;
    closing_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
        self->detach(true);
        self->close_socket();
    });
}

// While over the limit or closing with bytes queued, checks every second
// whether the client has made progress.
void WsSession::watch() {
    if (deadline_ || closed_) return;
    deadline_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
    deadline_->expires_after(std::chrono::seconds(1));
    deadline_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
        self->deadline_.reset();
        if (ec || self->closed_) return;
        const bool waiting = self->read_paused_ || (self->closing_ && !self->queue_.empty());
        if (!waiting) return;
        if (self->server_.now() - self->last_progress_ >= kStallTime)
            return self->drop(self->closing_ ? "takes nothing while closing" : "does not read");
        self->watch();
    });
}

void WsSession::finish() {
    detach(false);
    if (closing_ || closed_) return;
    push_control(ws::Opcode::close, ws::close_payload(1000));
    closing_ = true;
    write();
}

void WsSession::abort() {
    detach(false);
    close_socket();
}

// Writes what is queued at once, with one gathered sendmsg on the
// non-blocking socket: the common case (the kernel takes it all) costs one
// syscall and no asynchronous operation. During the engine's flush, with
// --io-uring on, that sendmsg goes into the server's WriteBatch instead and
// the whole fan-out is submitted at once (on_batched_write carries on).
// What the kernel does not take waits for writability. Frames queued
// meanwhile go out together with the rest.
void WsSession::write() {
    if (waiting_writable_ || batched_ || closed_) return;
    if (tls_) return write_tls();
    while (!queue_.empty()) {
        const std::size_t n = gather();
        if (WriteBatch* batch = server_.write_batch(); batch && batch->open()) {
            batched_ = true;
            return batch->add(socket_.native_handle(), gather_.data(), gather_.size(), n, shared_from_this());
        }
        msghdr msg{};
        msg.msg_iov = gather_.data();
        msg.msg_iovlen = gather_.size();
        const ssize_t r = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (!after_write(r < 0 ? -errno : r, n)) return;
    }
    drained();
}

// The next write's iovecs in gather_ (at most kMaxGather queue entries, two
// buffers each, skipping what the kernel already took); returns the entries.
std::size_t WsSession::gather() {
    gather_.clear();
    const std::size_t n = std::min(queue_.size(), kMaxGather);
    std::size_t skip = front_written_;  // bytes of queue_[0] already sent
    for (std::size_t i = 0; i < n; ++i) {
        const Out& o = queue_[i];
        for (auto part : {std::string_view(o.header.view()), std::string_view(*o.data)}) {
            if (skip >= part.size()) {
                skip -= part.size();
                continue;
            }
            gather_.push_back(iovec{const_cast<char*>(part.data() + skip), part.size() - skip});
            skip = 0;
        }
    }
    return n;
}

// After a gathered write of `entries` queue entries took `result` bytes (or
// failed with -errno). True: write more now (or, the queue empty, drained).
bool WsSession::after_write(long result, std::size_t entries) {
    const bool full = result == -EAGAIN || result == -EWOULDBLOCK;
    if (result < 0 && !full) {
        // Reported from the event loop, not from inside the engine's flush.
        closing_ = true;
        asio::post(socket_.get_executor(), [self = shared_from_this()] {
            self->detach(true);
            self->close_socket();
        });
        return false;
    }
    consume(full ? 0 : static_cast<std::size_t>(result));
    if (queue_.empty()) return true;
    if (!full && entries == kMaxGather && front_written_ == 0) return true;  // more than one gather's worth
    if (closing_) watch();  // a client that takes nothing cannot keep a closing socket open
    waiting_writable_ = true;
    socket_.async_wait(asio::ip::tcp::socket::wait_write, [self = shared_from_this()](boost::system::error_code wec) {
        self->waiting_writable_ = false;
        if (wec || self->closed_) {
            if (!self->closed_) {
                self->detach(true);
                self->close_socket();
            }
            return;
        }
        self->write();
    });
    return false;
}

void WsSession::on_batched_write(long result, std::size_t entries) {
    batched_ = false;
    if (closed_) return;
    if (after_write(result, entries)) write();
}

// A write of this connection waits in the batch: let it complete before the
// queue (which gather_ points into) or the socket changes.
void WsSession::settle_batch() {
    if (!batched_) return;
    if (WriteBatch* batch = server_.write_batch()) batch->submit();
}

// TLS: the next kTlsChunk bytes of the queue are copied into one buffer and
// written through the TLS stream (OpenSSL encrypts contiguous records anyway;
// a gather would cost a record and a syscall per piece). They stay counted in
// the queue until the write completes; frames queued meanwhile go in the next.
void WsSession::write_tls() {
    if (queue_.empty()) return drained();
    std::string& out = tls_->out;
    out.clear();
    std::size_t skip = front_written_;  // bytes of queue_[0] already sent
    for (std::size_t i = 0; i < queue_.size() && out.size() < kTlsChunk; ++i) {
        const Out& o = queue_[i];
        for (auto part : {std::string_view(o.header.view()), std::string_view(*o.data)}) {
            if (skip >= part.size()) {
                skip -= part.size();
                continue;
            }
            out.append(part.substr(skip, kTlsChunk - out.size()));
            skip = 0;
        }
    }
    if (closing_) watch();  // a client that takes nothing cannot keep a closing socket open
    waiting_writable_ = true;
    asio::async_write(tls_->conn.stream, asio::buffer(out),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t written) {
                          self->waiting_writable_ = false;
                          if (self->closed_) return;
                          if (ec) {
                              self->detach(true);
                              return self->close_socket();
                          }
                          self->consume(written);
                          self->write();
                      });
}

// Everything queued was taken.
void WsSession::drained() {
    if (queue_.capacity() > 16) {  // a burst is over: give the memory back
        std::vector<Out>().swap(queue_);
        std::vector<iovec>().swap(gather_);
    }
    burst_over();
    if (tls_ && tls_->out.capacity() > kReadChunk) std::string().swap(tls_->out);
    if (closing_) close_socket();
}

bool WsSession::over_limit() const { return queued_bytes_ > server_.options().max_write_queue_bytes; }

// A reader is dropped when more than --max-write-queue bytes wait for it and
// it has taken nothing for kStallTime (it stopped reading), or when eight
// times that much waits (it reads, but far slower than it is sent to).
bool WsSession::stalled() const {
    if (!over_limit()) return false;
    return queued_bytes_ > 8 * server_.options().max_write_queue_bytes ||
           server_.now() - last_progress_ >= kStallTime;
}

// Drops what the kernel took: whole entries, and a prefix of the next one.
void WsSession::consume(std::size_t written) {
    if (written) last_progress_ = server_.now();
    std::size_t done = 0;
    while (done < queue_.size()) {
        const Out& o = queue_[done];
        const std::size_t size = o.header.size + o.data->size() - front_written_;
        if (written < size) {
            front_written_ += written;
            break;
        }
        written -= size;
        front_written_ = 0;
        queued_bytes_ -= o.header.size + o.data->size();
        ++done;
    }
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(done));
    if (read_paused_ && !over_limit() && !closing_) {
        read_paused_ = false;
        read();
    }
}

void WsSession::close_socket() {
    if (closed_) return;
    settle_batch();
    closed_ = true;
    deadline_.reset();
    slot_ = {};
    burst_over();
    boost::system::error_code ec;
    auto& socket = tls_ ? tls_->conn.tcp().socket() : socket_;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket.close(ec);  // a write in flight completes with an error and releases the queue
}

}  // namespace compeit::native
