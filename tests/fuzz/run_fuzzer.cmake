# Runs one libFuzzer target for SECONDS over a fresh copy of its seed corpus
# (the source tree is only read), failing on any crash. Called by ctest:
#   cmake -DFUZZER=... -DSEEDS=... -DWORK=... -DARTIFACTS=... [-DDICT=...] -DSECONDS=... -P run_fuzzer.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK} ${ARTIFACTS})
file(GLOB seeds ${SEEDS}/*)
if(NOT seeds)
  message(FATAL_ERROR "no seeds in ${SEEDS}")
endif()
file(COPY ${seeds} DESTINATION ${WORK})
set(args -max_total_time=${SECONDS} -timeout=20 -rss_limit_mb=2048 -max_len=4096
         -print_final_stats=1 -artifact_prefix=${ARTIFACTS}/)
if(DICT)
  list(APPEND args -dict=${DICT})
endif()
execute_process(COMMAND ${FUZZER} ${args} ${WORK} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); the input is in ${ARTIFACTS}/")
endif()
