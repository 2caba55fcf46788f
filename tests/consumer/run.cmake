# ctest's Install.ConsumerProjectBuildsAndMeasures: install critlab from BUILD_DIR into WORK_DIR/prefix, build the
# consumer project in SOURCE_DIR against it, and run it. Any failing step fails the test.
file(REMOVE_RECURSE ${WORK_DIR})
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message("${out}")
endfunction()
step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
if(NOT EXISTS ${WORK_DIR}/prefix/bin/critlab OR NOT EXISTS ${WORK_DIR}/prefix/libexec/critlab/critlab-engine)
  message(FATAL_ERROR "the install lacks bin/critlab or libexec/critlab/critlab-engine")
endif()
step(${WORK_DIR}/prefix/bin/critlab --version)
find_program(CCACHE ccache)
set(launcher "")
if(CCACHE)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE})
endif()
step(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -DCMAKE_BUILD_TYPE=Release
     -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix ${launcher})
step(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
step(${WORK_DIR}/build/consumer)
# The installed launcher hands engine commands to the installed engine.
step(${WORK_DIR}/prefix/bin/critlab measure --arch mlp --depth 2 --width 16 --probe-source gaussian --probes 8
     --no-lyapunov --no-dynamic-range --json)
