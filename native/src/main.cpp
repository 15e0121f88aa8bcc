// compeit-server: configuration in (flags, environment, config file), one
// io_context thread, the TLS certificate reloaded on SIGHUP. SIGTERM drains
// (Server::drain: new sessions go elsewhere, the open ones get
// --drain-timeout to end); a second SIGTERM, or SIGINT (Ctrl-C) at any time,
// stops at once. Either way the exit status is 0.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <functional>
#include <string_view>

#include "log.hpp"
#include "options.hpp"
#include "server.hpp"
#include "token_command.hpp"

int main(int argc, char** argv) {
    using namespace compeit::native;
    if (argc > 1 && std::string_view(argv[1]) == "token")
        return token_command(std::vector<std::string>(argv + 2, argv + argc));
    Options options;
    const auto parsed = parse_options(std::vector<std::string>(argv + 1, argv + argc), options);
    if (!parsed.ok) {
        std::fprintf(stderr, "compeit-server: %s\n(see --help)\n", parsed.error.c_str());
        return 2;
    }
    if (parsed.exit_now) {
        std::fputs(parsed.output.c_str(), stdout);
        return 0;
    }
    const auto folders = check_folders(options);
    if (!folders.error.empty()) {
        std::fprintf(stderr, "compeit-server: %s\n", folders.error.c_str());
        return 2;
    }
    set_log_level(options.log_level);
    set_log_format(options.log_format);
    set_access_log(options.access_log);
    for (const auto& warning : folders.warnings) log(LogLevel::warn, warning);
    std::signal(SIGPIPE, SIG_IGN);
    // Buffers of 256 KiB and more get pages of their own, returned to the
    // system when freed (glibc would otherwise raise this threshold as large
    // blocks come and go, and keep a burst's memory in its heap).
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);

    boost::asio::io_context ioc{1};
    Server server(ioc, options);
    if (!server.listen()) return 1;

    // SIGHUP: the TLS certificate and key are read again (certificate renewal);
    // open connections are not touched.
    boost::asio::signal_set hangups(ioc, SIGHUP);
    std::function<void()> await_hangup = [&] {
        hangups.async_wait([&](boost::system::error_code ec, int) {
            if (ec) return;
            server.reload_tls();
            await_hangup();
        });
    };
    await_hangup();

    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    const auto stop_now = [&] {
        server.stop();
        hangups.cancel();
        signals.cancel();
        ioc.stop();
    };
    std::function<void()> await_signal = [&] {
        signals.async_wait([&](boost::system::error_code ec, int signo) {
            if (ec) return;
            if (signo == SIGTERM && !server.draining()) {
                log_event(LogLevel::info, LogFields{.event = "draining"},
                          "SIGTERM: draining (a second SIGTERM or SIGINT stops at once)");
                server.drain(std::chrono::milliseconds(static_cast<std::int64_t>(options.drain_timeout_s * 1000)),
                             stop_now);
                return await_signal();
            }
            log_event(LogLevel::info, LogFields{.event = "shutting_down"}, signo == SIGINT ? "SIGINT" : "SIGTERM",
                      ": shutting down now");
            stop_now();
        });
    };
    await_signal();

    std::printf("listening on %s://%s:%u\n", server.tls_context() ? "https" : "http", options.bind.c_str(),
                static_cast<unsigned>(server.port()));
    std::fflush(stdout);
    const auto listening = options.bind + ":" + std::to_string(server.port());
    log_event(LogLevel::info, LogFields{.event = "listening"}, "listening on ", listening, ", serving ",
              options.web_root, " at /, socket.io 0.9 at ", options.resource, "/1/");
    // The last barrier: an exception out of a completion handler (a bug; the
    // router has its own barrier per request) is logged and the loop goes on.
    for (;;) {
        try {
            ioc.run();
            break;
        } catch (const std::exception& e) {
            log_event(LogLevel::error, LogFields{.event = "internal_error"}, "internal error in an event handler: ",
                      e.what());
        }
    }
    log_event(LogLevel::info, LogFields{.event = "stopped"}, "stopped");
    return 0;
}
