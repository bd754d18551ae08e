# run_fuzz.cmake — one short libFuzzer run, for ctest (see CMakeLists.txt).
#   cmake -DEXE=<target> -DSEEDS=<corpus dir> -DWORK=<scratch dir>
#         -DSECONDS=<n> -P run_fuzz.cmake
# Copies the committed seeds to WORK/corpus (the run adds to the copy, never
# to the committed corpus), runs the target for SECONDS, and fails when it
# found anything; a crashing input is left in WORK as crash-*/leak-*/...
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus)
file(GLOB seeds ${SEEDS}/*)
if(seeds)
  file(COPY ${seeds} DESTINATION ${WORK}/corpus)
endif()
execute_process(
  COMMAND ${EXE} -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048
          -max_len=65536 -print_final_stats=1 -artifact_prefix=${WORK}/
          ${WORK}/corpus
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE}: libFuzzer exit ${rc}; reproducer in ${WORK}/")
endif()
