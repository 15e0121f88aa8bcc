// The command line is read by CLI11 (Debian's libcli11-dev) and the config
// file by CLI11's TOML/INI reader; the three sources are then layered here,
// flag by flag, so the environment can sit between the command line and the
// file (CLI11's own order puts the file above the environment), and each
// value goes through the flag's own check (option_flags.cpp) so an error
// names the flag, the value and what is allowed.
#include "options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "option_flags.hpp"
#include "version.hpp"

namespace compeit::native {
namespace {

// The values one source gives a flag, and where they came from ("" for the
// command line) for the error message.
struct Given {
    std::vector<std::string> values;
    std::string where;
};

std::string env_name(const std::string& flag) {
    std::string out = "COMPEIT_";
    for (char c : flag) out += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    return out;
}

std::vector<std::string> words(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

const Flag* find_flag(const std::string& name) {
    for (const auto& f : option_flags())
        if (f.name == name) return &f;
    return nullptr;
}

const char* const kFooter =
    "Every flag can also come from the config file (--config FILE, or env COMPEIT_CONFIG), one\n"
    "`flag = value` line each: `port = 8080`, `access-log = true`,\n"
    "`allowed-origin = [\"https://a.example\", \"https://b.example\"]`; or from the environment as\n"
    "COMPEIT_<FLAG>: COMPEIT_PORT, COMPEIT_DATA_DIR, COMPEIT_ADMIN_TOKEN, ... (repeatable flags: values\n"
    "separated by spaces). Command line > environment > config file > defaults; --print-config shows\n"
    "the result.";

struct Cli {
    CLI::App app{"compeit-server " + std::string(kVersion) +
                     ": the COMPEIT real-time server (socket.io 0.9, namespace /connection_agent)",
                 "compeit-server"};
    CLI::Option* config = nullptr;
    CLI::Option* version = nullptr;
    CLI::Option* print_config = nullptr;
    std::vector<CLI::Option*> flags;  // option_flags() order

    Cli() {
        app.set_help_flag("--help,-h", "this text");
        app.allow_extras();  // reported below, as "unknown flag"
        app.get_formatter()->column_width(34);
        app.footer(kFooter);
        config = app.add_option("--config")->type_name("FILE")->description(
            "read flags from this file, `flag = value` lines (or env COMPEIT_CONFIG)");
        print_config = app.add_flag("--print-config")->description(
            "print the effective configuration in the config file's format, secrets as (set), and exit");
        version = app.add_flag("--version")->description("print the version and the git commit, and exit");
        for (const auto& f : option_flags()) {
            CLI::Option* o = f.kind == Flag::Kind::boolean ? app.add_flag("--" + f.name) : app.add_option("--" + f.name);
            o->description(f.help);
            if (f.kind != Flag::Kind::boolean) o->type_name(f.arg);
            if (f.kind == Flag::Kind::list)
                o->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
            else
                o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
            flags.push_back(o);
        }
    }
};

std::string parse_error(const CLI::ParseError& e) {
    const std::string what = e.what();
    if (e.get_name() == "ArgumentMismatch" && what.find("missing") != std::string::npos)
        return what.substr(0, what.find(':')) + " needs a value";
    return what;
}

// The config file's values by flag; an unknown key or a [section] is an error.
std::string read_config_file(const std::string& path, std::vector<std::optional<Given>>& given) {
    std::vector<CLI::ConfigItem> items;
    try {
        items = CLI::ConfigTOML().from_file(path);
    } catch (const CLI::FileError&) {
        return "config file " + path + " cannot be read";
    } catch (const CLI::Error& e) {
        return "config file " + path + ": " + e.what();
    }
    const auto& flags = option_flags();
    for (auto& item : items) {
        if (!item.parents.empty() || item.name == "++" || item.name == "--")
            return "config file " + path + ": sections are not used (found [" +
                   (item.parents.empty() ? item.name : item.parents.front()) + "])";
        const Flag* flag = find_flag(item.name);
        if (!flag) return "config file " + path + ": unknown key \"" + item.name + "\" (keys are the flags without --)";
        if (item.inputs.empty()) item.inputs.emplace_back();
        given[static_cast<std::size_t>(flag - flags.data())] = Given{std::move(item.inputs), "in config file " + path};
    }
    return {};
}

std::string bad_value(const Flag& f, const std::string& value, const std::string& allowed, const std::string& where) {
    const std::string got = value.empty() ? "an empty value" : f.secret ? "a hidden value" : value;
    return f.name + " must be " + allowed + " (got " + got + ")" + (where.empty() ? "" : " " + where);
}

std::string print_config(const Options& o, const std::string& config_path) {
    std::ostringstream os;
    os << "# compeit-server " << kVersion << " (" << kGitCommit << "): the effective configuration\n"
       << "# command line > environment > config file"
       << (config_path.empty() ? std::string(" (none)") : " " + config_path) << " > built-in defaults\n";
    for (const auto& f : option_flags()) {
        if (const auto value = f.get(o))
            os << f.name << " = " << *value << "\n";
        else
            os << "# " << f.name << " is not set\n";
    }
    return os.str();
}

}  // namespace

EnvLookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        return v ? std::optional<std::string>(v) : std::nullopt;
    };
}

ParseResult parse_options(const std::vector<std::string>& args, Options& out, const EnvLookup& env) {
    Cli cli;
    try {
        std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
        cli.app.parse(reversed);
    } catch (const CLI::CallForHelp&) {
        return {true, true, {}, cli.app.help()};
    } catch (const CLI::ParseError& e) {
        return {false, false, parse_error(e), {}};
    }
    if (const auto rest = cli.app.remaining(); !rest.empty())
        return {false, false,
                rest.front().rfind("-", 0) == 0 ? "unknown flag: " + rest.front()
                                                : "unexpected argument: " + rest.front() + " (flags start with --)",
                {}};
    if (cli.version->count())
        return {true, true, {}, "compeit-server " + std::string(kVersion) + " (" + std::string(kGitCommit) + ")\n"};

    // Lowest first: the config file, then the environment, then the command line.
    const auto& flags = option_flags();
    std::vector<std::optional<Given>> given(flags.size());
    std::string config_path;
    if (cli.config->count())
        config_path = cli.config->results().empty() ? "" : cli.config->results().back();
    else if (const auto v = env("COMPEIT_CONFIG"))
        config_path = *v;
    if (cli.config->count() && config_path.empty()) return {false, false, "config must be a file (got an empty value)", {}};
    if (!config_path.empty())
        if (auto error = read_config_file(config_path, given); !error.empty()) return {false, false, error, {}};
    for (std::size_t i = 0; i < flags.size(); ++i) {
        const std::string var = env_name(flags[i].name);
        if (const auto v = env(var); v && !v->empty())
            given[i] = Given{flags[i].kind == Flag::Kind::list ? words(*v) : std::vector<std::string>{*v}, "in " + var};
        if (cli.flags[i]->count()) {
            auto values = cli.flags[i]->results();
            if (values.empty()) values.emplace_back();
            if (flags[i].kind != Flag::Kind::list) values = {values.back()};
            given[i] = Given{std::move(values), ""};
        }
    }

    for (std::size_t i = 0; i < flags.size(); ++i) {
        if (!given[i]) continue;
        const Flag& f = flags[i];
        if (f.kind != Flag::Kind::list && given[i]->values.size() != 1)
            return {false, false, f.name + " takes one value (got " + std::to_string(given[i]->values.size()) + ") " + given[i]->where, {}};
        for (const auto& v : given[i]->values)
            if (const auto allowed = f.set(v, out)) return {false, false, bad_value(f, v, *allowed, given[i]->where), {}};
        out.named.push_back(f.name);
    }
    if (out.tls_cert.empty() != out.tls_key.empty()) return {false, false, "--tls-cert and --tls-key go together", {}};
    if (!out.cluster.empty() && out.node.empty()) return {false, false, "--cluster needs --node NAME", {}};
    if (cli.print_config->count()) return {true, true, {}, print_config(out, config_path)};
    return {};
}

FolderCheck check_folders(const Options& o) {
    FolderCheck check;
    std::string missing_defaults;
    const auto named = [&](const char* flag) { return std::find(o.named.begin(), o.named.end(), flag) != o.named.end(); };
    const std::pair<const char*, const std::string*> folders[] = {
        {"web-root", &o.web_root}, {"wasm-dir", &o.wasm_dir}, {"legacy-client", &o.legacy_client}, {"record-dir", &o.record_dir}};
    for (const auto& [flag, path] : folders) {
        // Unset, off, or a file:// URI: a folder on the media server's host, which this one cannot see.
        if (path->empty() || path->rfind("file://", 0) == 0) continue;
        std::error_code ec;
        if (std::filesystem::is_directory(*path, ec)) continue;
        if (named(flag)) {
            check.error = std::string("--") + flag + " " + *path + ": no such folder";
            return check;
        }
        // The default socket.io client package has its own warning (Server::load_legacy_client).
        if (std::string_view(flag) != "legacy-client")
            missing_defaults += std::string(missing_defaults.empty() ? "" : ", ") + "--" + flag + " " + *path;
    }
    if (!missing_defaults.empty())
        check.warnings.push_back("default folders missing, not served: " + missing_defaults +
                                 " (name others with these flags)");
    return check;
}

}  // namespace compeit::native
