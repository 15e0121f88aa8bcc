#include "metrics.hpp"

namespace compeit::native {

std::string render_metrics(Server&) {
    return "# HELP compeit_build_info The server's version.\n# TYPE compeit_build_info gauge\n"
           "compeit_build_info{version=\"" COMPEIT_VERSION "\"} 1\n";
}

}  // namespace compeit::native
