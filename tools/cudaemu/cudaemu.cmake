# -DSEQREC_CUDAEMU=ON (see README.md): the CUDA build, with every .cu rewritten by conv.py into
# host C++ and compiled against the fake headers in include/, CUDA::cudart and CUDA::cublas
# standing for emu.cpp and sr_cudaemu_nccl (nccl.cpp) for NCCL. The whole program then runs its
# GPU paths on an emulated GPU.
if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64)$")
  message(FATAL_ERROR "SEQREC_CUDAEMU: the emulator's context switch is x86-64 only")
endif()
enable_language(CXX)
set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(SR_CUDAEMU_DIR ${CMAKE_CURRENT_LIST_DIR})

# No FMA contraction: the emulated kernels round where the source says, like the CPU kernels.
add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off;-Wall;-Wno-sign-compare;-Wno-comment;-Wno-unknown-pragmas>")
if(SEQREC_SANITIZE)
  add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined;-fno-omit-frame-pointer;-fno-sanitize-recover=undefined>")
endif()

add_library(sr_cudaemu STATIC ${SR_CUDAEMU_DIR}/emu.cpp)
target_include_directories(sr_cudaemu PUBLIC ${SR_CUDAEMU_DIR}/include)
add_library(CUDA::cudart ALIAS sr_cudaemu)
add_library(CUDA::cublas ALIAS sr_cudaemu)
# NCCL over MPI (nccl.cpp), for the GPU all-reduce of one GPU per rank (EMU_GPUS GPUs).
add_library(sr_cudaemu_nccl STATIC ${SR_CUDAEMU_DIR}/nccl.cpp)
target_link_libraries(sr_cudaemu_nccl PUBLIC sr_cudaemu MPI::MPI_C)

# sr_cuda_sources(TARGET a.cu ...): the converted sources join TARGET (the draft backend's
# ".cu.draft" suffix is dropped).
function(sr_cuda_sources target)
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/cudaemu)
  foreach(cu ${ARGN})
    get_filename_component(abs ${cu} ABSOLUTE)
    get_filename_component(name ${abs} NAME)
    string(REGEX REPLACE "\\.draft$" "" name ${name})
    set(out ${CMAKE_CURRENT_BINARY_DIR}/cudaemu/${name}.cpp)
    add_custom_command(OUTPUT ${out}
      COMMAND ${Python3_EXECUTABLE} ${SR_CUDAEMU_DIR}/conv.py ${abs} ${out}
      DEPENDS ${abs} ${SR_CUDAEMU_DIR}/conv.py VERBATIM)
    target_sources(${target} PRIVATE ${out})
  endforeach()
endfunction()

# The emulator's own checks (selftest.cu): ctest cudaemu_selftest, label cuda.
if(SEQREC_TESTS)
  add_executable(cudaemu_selftest)
  sr_cuda_sources(cudaemu_selftest ${SR_CUDAEMU_DIR}/selftest.cu)
  target_link_libraries(cudaemu_selftest PRIVATE sr_cudaemu)
  if(SEQREC_SANITIZE) # the global link options come after this file
    target_link_options(cudaemu_selftest PRIVATE -fsanitize=address,undefined)
  endif()
  enable_testing()
  add_test(NAME cudaemu_selftest COMMAND cudaemu_selftest)
  set_tests_properties(cudaemu_selftest PROPERTIES LABELS cuda
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endif()
