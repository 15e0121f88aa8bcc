#include "token_command.hpp"

#include <cstdio>
#include <cstdlib>

#include "server.hpp"
#include "token_verifier.hpp"

namespace compeit::native {
namespace {

constexpr const char* kUsage =
    "usage: compeit-server token --secret S --sub KEY [--name NAME] [--rooms 7,8|*] [--ttl 1h] [--caps publish,record] [--agent TYPES]\n"
    "  --secret S    the server's --auth-secret (or env COMPEIT_AUTH_SECRET), at least 32 bytes\n"
    "  --sub KEY     the application's stable user key\n"
    "  --name NAME   the display name the server uses\n"
    "  --rooms LIST  room ids the user may join, comma-separated, or * for all (default *)\n"
    "  --ttl T       lifetime: seconds, or a number with s, m, h or d (default 1h)\n"
    "  --caps LIST   of publish, record, filter, moderate, admin (default none)\n"
    "  --agent LIST  types an agent link with this token may register, comma-separated (docs/agents.md)\n";

std::optional<std::int64_t> duration_seconds(const std::string& v) {
    if (v.empty()) return std::nullopt;
    char* end = nullptr;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (end == v.c_str() || n <= 0) return std::nullopt;
    const std::string unit(end);
    long long scale = 0;
    if (unit.empty() || unit == "s") scale = 1;
    else if (unit == "m") scale = 60;
    else if (unit == "h") scale = 3600;
    else if (unit == "d") scale = 86400;
    // at most ten years, whatever the unit (the bound is on the lifetime, not on the number)
    if (scale == 0 || n > 10LL * 365 * 86400 / scale) return std::nullopt;
    return n * scale;
}

std::vector<std::string> split(const std::string& v) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= v.size()) {
        const auto comma = v.find(',', start);
        out.push_back(v.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

int fail(const std::string& why) {
    std::fprintf(stderr, "compeit-server token: %s\n%s", why.c_str(), kUsage);
    return 2;
}

}  // namespace

int token_command(const std::vector<std::string>& args) {
    std::string secret;
    if (const char* s = std::getenv("COMPEIT_AUTH_SECRET")) secret = s;
    auth::Claims c;
    c.all_rooms = true;
    c.caps = ca::Capabilities::none();
    std::int64_t ttl = 3600;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& flag = args[i];
        if (flag == "--help") return std::fputs(kUsage, stdout), 0;
        if (i + 1 >= args.size()) return fail(flag + " needs a value");
        const std::string& v = args[++i];
        if (flag == "--secret") {
            secret = v;
        } else if (flag == "--sub") {
            c.sub = v;
        } else if (flag == "--name") {
            c.name = v;
        } else if (flag == "--rooms") {
            c.all_rooms = v == "*";
            if (c.all_rooms) continue;
            for (const auto& r : split(v)) {
                char* end = nullptr;
                const long long id = std::strtoll(r.c_str(), &end, 10);
                if (r.empty() || *end != '\0' || id < 0 || id > ca::kMaxRoomId) return fail("bad room id: " + r);
                c.rooms.insert(id);
            }
        } else if (flag == "--ttl") {
            const auto t = duration_seconds(v);
            if (!t) return fail("bad --ttl: " + v);
            ttl = *t;
        } else if (flag == "--caps") {
            for (const auto& cap : split(v)) {
                if (cap == "publish") c.caps.publish = true;
                else if (cap == "record") c.caps.record = true;
                else if (cap == "filter") c.caps.filter = true;
                else if (cap == "moderate") c.caps.moderate = true;
                else if (cap == "admin") c.caps.admin = true;
                else return fail("unknown capability: " + cap);
            }
        } else if (flag == "--agent") {
            const auto types = split(v);
            c.agent = std::set<std::string>(types.begin(), types.end());
        } else {
            return fail("unknown flag: " + flag);
        }
    }
    if (secret.size() < 32) return fail("--secret must be at least 32 bytes");
    if (c.sub.empty()) return fail("--sub is required");
    c.exp = Server::wall_seconds() + ttl;
    const std::string token = auth::make_token(auth::Algorithm::hs256, c, [&](const std::string& input) {
        return hs256_signature(secret, input);
    });
    std::printf("%s\n", token.c_str());
    return 0;
}

}  // namespace compeit::native
