"""Tests for raftlab.run.objcheck (the grader's check of raft.o, and
tools/check-raft's): small C files compiled with the lab's flags, each
breaking one rule; the skeleton and the reference pass. Linux only."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from raftlab.run import objcheck
from raftlab.run.paths import LAB_ROOT as ROOT

FLAGS = ["-std=c11", "-pthread", "-O2", "-g", "-Wall", "-Wextra", "-D_POSIX_C_SOURCE=200809L",
         "-D_DEFAULT_SOURCE", "-I."]
HEAD = '#include "raft/raft.h"\n#include <stdio.h>\n'


@unittest.skipUnless(sys.platform.startswith("linux") and shutil.which("readelf") and shutil.which("cc"),
                     "ELF objects, binutils and a C compiler")
class ObjcheckTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.rules = objcheck.Rules()

    def tearDown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def compile(self, source: str, name: str = "raft.c") -> tuple[str, str, str]:
        src = os.path.join(self.dir, name)
        with open(src, "w") as f:
            f.write(source)
        obj, dep = src[:-2] + ".o", src[:-2] + ".d"
        subprocess.run(["cc", *FLAGS, "-MD", "-MF", dep, "-c", src, "-o", obj], cwd=ROOT, check=True,
                       capture_output=True)
        return obj, dep, src

    def problems(self, source: str) -> list[str]:
        obj, dep, src = self.compile(source)
        pre = subprocess.run(["cc", *FLAGS, "-E", src], cwd=ROOT, capture_output=True, check=True).stdout
        return (objcheck.check_object(obj, self.rules) +
                objcheck.check_headers(objcheck.read_deps(dep), ROOT, src) +
                objcheck.check_preprocessed(pre.decode(), "raft.c"))

    def assertRefused(self, source: str, words: str) -> None:
        found = self.problems(source)
        self.assertTrue(found, "nothing found")
        self.assertIn(words, found[0])

    def test_the_skeleton_and_the_reference_pass(self) -> None:
        for path in ("raft/raft.c", "solution/raft.c"):
            if os.path.exists(os.path.join(ROOT, path)):
                with open(os.path.join(ROOT, path)) as f:
                    self.assertEqual(self.problems(f.read()), [], path)

    def test_a_constructor(self) -> None:
        self.assertRefused(HEAD + "__attribute__((constructor)) static void c(void) { puts(\"x\"); }\n",
                           "has a .init_array section: constructors")

    def test_a_framework_function_defined(self) -> None:
        self.assertRefused(HEAD + "double lab_cpu_seconds(void);\ndouble lab_cpu_seconds(void) { return 0; }\n",
                           "raft.c defines lab_cpu_seconds, a framework function")

    def test_a_global_variable(self) -> None:
        self.assertRefused(HEAD + "extern int verbose;\nint verbose = 1;\n", "defines the global symbol verbose")

    def test_forbidden_and_unknown_calls(self) -> None:
        self.assertRefused(HEAD + "#include <unistd.h>\nvoid raft_kill(raft *rf) { (void)rf; fork(); }\n",
                           "calls fork, which a Raft may not use: it starts a process")
        self.assertRefused(HEAD + "#include <pthread.h>\nvoid raft_kill(raft *rf) { (void)rf; pthread_yield(); }\n",
                           "uses pthread_yield, which is not on the list")
        self.assertRefused(HEAD + '#include "labrpc/labrpc.h"\n'
                           "void raft_kill(raft *rf) { labrpc_network_set_reliable((labrpc_network *)rf, 0); }\n",
                           "calls labrpc_network_set_reliable, a framework function")

    def test_calls_that_simulation_cannot_replay(self) -> None:
        obj, _, _ = self.compile(HEAD + "#include <stdlib.h>\n#include <time.h>\n#include <unistd.h>\n"
                                 "#include <pthread.h>\nstatic pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;\n"
                                 "void raft_kill(raft *rf) { (void)rf; usleep(1); (void)rand(); (void)time(0);\n"
                                 "  pthread_mutex_lock(&m); pthread_mutex_unlock(&m); }\n")
        found = objcheck.check_replay(obj, self.rules)
        self.assertEqual(len(found), 5, found)
        for name, replacement in (("usleep", "lab_sleep_ms"), ("rand", "lab_rand_below"), ("time", "lab_now_ms"),
                                  ("pthread_mutex_lock", "lab_mutex_lock"),
                                  ("pthread_mutex_unlock", "lab_mutex_unlock")):
            self.assertTrue(any(f"calls {name}(), which simulation mode (SIM=1) cannot schedule or replay: "
                                f"use {replacement}" in line for line in found), (name, found))
        # tools/check-raft: a note in real time, an error (status 1) with --sim
        for sim, status, words in ((False, 0, "check-raft: note:"), (True, 1, "check-raft: error:")):
            proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "check-raft"),
                                   *(["--sim"] if sim else []), obj], capture_output=True, text=True)
            self.assertEqual(proc.returncode, status, proc.stderr)
            self.assertIn(words, proc.stderr)
            self.assertIn("calls usleep(), which simulation mode", proc.stderr)

    def test_stress_and_make_refuse_it_in_simulation(self) -> None:
        """make check-raft SIM=1, which tools/stress --sim runs before any run."""
        from raftlab.run import build
        with open(os.path.join(ROOT, "raft", "raft.c")) as f:
            skeleton = f.read()
        staged = build.stage(ROOT, "objcheck-replay-test", ("#include <unistd.h>\n" + skeleton.replace(
            "\nvoid raft_kill(raft *rf)\n{\n", "\nvoid raft_kill(raft *rf)\n{\n    usleep(1);\n")).encode())
        try:
            build.build(ROOT, staged)
            said = build.unreplayable(ROOT, staged)
            self.assertIn("check-raft: error: simulation mode cannot run this raft.c", said)
            self.assertIn("raft.c calls usleep(), which simulation mode (SIM=1) cannot schedule or replay", said)
            self.assertEqual(build.unreplayable(ROOT, "raft"), "")
        finally:
            shutil.rmtree(os.path.join(ROOT, staged), ignore_errors=True)

    def test_the_skeleton_and_the_reference_are_replayable(self) -> None:
        for path in ("raft/raft.c", "solution/raft.c"):
            if os.path.exists(os.path.join(ROOT, path)):
                with open(os.path.join(ROOT, path)) as f:
                    obj, _, _ = self.compile(f.read())
                self.assertEqual(objcheck.check_replay(obj, self.rules), [], path)

    def test_inline_assembly_and_raw_syscall_bytes(self) -> None:
        self.assertRefused(HEAD + 'void raft_kill(raft *rf) { (void)rf; __asm__ volatile("syscall"); }\n',
                           "makes a raw system call")
        self.assertRefused(HEAD + "#define A __as ## m__\n#define B(x) A(x)\n"
                           'void raft_kill(raft *rf) { (void)rf; B("nop"); }\n', "uses inline assembly")
        code = HEAD + ("static volatile unsigned f = 0x90050f90u;\n"
                       "void raft_kill(raft *rf) { (void)rf; f = 0x050f; }\n")
        obj, _, _ = self.compile(code)
        self.assertTrue(any("bytes of a system call" in p for p in objcheck.check_code(obj)),
                        objcheck.check_code(obj))

    def test_ifunc_and_sections(self) -> None:
        self.assertRefused(HEAD + "static void impl(void) {}\nstatic void (*resolve(void))(void) { return impl; }\n"
                           "static void f(void) __attribute__((ifunc(\"resolve\")));\n"
                           "void raft_kill(raft *rf) { (void)rf; f(); }\n", "indirect function")
        self.assertRefused(HEAD + '__attribute__((used, section("cr_tst"))) static int t = 1;\n',
                           "Criterion section")
        self.assertRefused(HEAD + '__attribute__((used, section(".evil"))) static int t = 1;\n',
                           "a section '.evil'")

    def test_headers(self) -> None:
        if os.path.exists(os.path.join(ROOT, "solution", "raft.c")):
            self.assertIn("includes solution/raft.c: the reference solution",
                          self.problems('#include "solution/raft.c"\n')[0])
        self.assertRefused(HEAD + '#include "harness/harness.h"\n', "includes harness/harness.h: the tester's own code")
        self.assertRefused(HEAD + '#include "labrpc/labrpc_internal.h"\n', "internal to the framework")
        self.assertRefused(HEAD + "#include <criterion/criterion.h>\n", "the test framework's header")

    def test_every_function_of_the_public_headers_is_listed(self) -> None:
        """A function added to the lab's API is allowed or refused on purpose, never by default."""
        import glob
        import re
        listed = set().union(*self.rules.sections.values())
        missing = []
        for d in objcheck.LAB_HEADER_DIRS:
            for header in glob.glob(os.path.join(ROOT, d, "*.h")):
                if header.endswith("_internal.h"):
                    continue
                with open(header) as f:
                    text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
                for m in re.finditer(r"^(?!typedef|#|static|\s)[^;{}()]*?\b([a-z_][a-z0-9_]*)\s*\(", text, re.M):
                    if m.group(1) not in listed:
                        missing.append(f"{os.path.relpath(header, ROOT)}: {m.group(1)}")
        self.assertEqual(missing, [], "add them to tools/raftlab/run/objcheck_rules.txt, [lab] or [framework]")

    def test_dependency_files(self) -> None:
        path = os.path.join(self.dir, "x.d")
        with open(path, "w") as f:
            f.write("build/raft.o: raft/raft.c lab/sync.h \\\n /dev/zero\nlab/sync.h:\n/dev/zero:\n")
        self.assertEqual(objcheck.read_deps(path), ["raft/raft.c", "lab/sync.h", "/dev/zero"])
        self.assertIn("a device", objcheck.check_headers(objcheck.read_deps(path), ROOT, "raft/raft.c")[0])


if __name__ == "__main__":
    unittest.main()
