// The table of compeit-server's flags: for each, how a text value becomes a
// field of Options (or what is allowed instead) and how the field is written
// back in the config file's format (--print-config). options.cpp feeds it the
// values of the command line, the environment and the config file.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "options.hpp"

namespace compeit::native {

struct Flag {
    enum class Kind { value, list, boolean };  // boolean: a flag without a value on the command line
    std::string name;  // without "--": also the config key; COMPEIT_<NAME> in the environment
    std::string arg;   // what the value looks like in --help
    std::string help;
    Kind kind = Kind::value;
    bool secret = false;  // never echoed: not in errors, "(set)" in --print-config
    // Applies one value; on a bad one returns what is allowed ("0–65535").
    std::function<std::optional<std::string>(const std::string&, Options&)> set;
    // The field in the config file's format (a TOML value); nullopt: not set.
    std::function<std::optional<std::string>(const Options&)> get;
};

const std::vector<Flag>& option_flags();

// A TOML value: a number as written, a string in quotes.
std::string toml_string(const std::string& s);

}  // namespace compeit::native
