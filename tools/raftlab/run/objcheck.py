"""Only Raft code gets in: the checks of a submission's raft.o, its headers
and its preprocessed source, before anything of it is linked or run.

The rules (their data is objcheck_rules.txt, beside this file):
  symbols    the only global symbols defined are the six raft_* functions;
             no GNU indirect functions (their resolvers run at load time);
             every undefined symbol is the lab's API or libc a Raft needs
  sections   only code, data, debugging and the compiler's notes: no
             constructors or destructors (.init_array, .preinit_array,
             .fini_array, .ctors, .dtors), no Criterion sections, nothing
             else; code only in .text, and no code that is also writable
  code       no raw system call instruction (syscall, int $0x80, sysenter;
             svc on arm64), by disassembly and by its bytes anywhere in code
  headers    (the compiler's dependency file) only the system's headers and
             the lab's own public ones: never solution/, tests/, Criterion, a
             device or any other file
  source     (the preprocessed raft.c) no inline assembly: it would bypass
             every other rule
Each problem is one line: what raft.c does, and why it is not allowed.
grading/grade refuses a submission with any (class REFUSED, score 0);
tools/check-raft warns a student the same way after `make test-2A` builds.
Linux (ELF) only: binutils' readelf and objdump do the reading.
"""
from __future__ import annotations

import os
import re
import subprocess
from typing import Sequence, Tuple

RULES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "objcheck_rules.txt")
LAB_HEADER_DIRS = ("lab", "labrpc", "persister", "applych", "raft")
SYSTEM_HEADER_PREFIXES = ("/usr/include/", "/usr/local/include/", "/usr/lib/gcc/", "/usr/lib/llvm",
                          "/usr/lib/clang/", "/usr/lib64/clang/", "/usr/lib/x86_64-linux-gnu/",
                          "/usr/lib/aarch64-linux-gnu/")
ALLOWED_SECTIONS = re.compile(
    r"^(|\.text(\..*)?|\.data(\..*)?|\.data\.rel\.ro(\..*)?|\.rodata(\..*)?|\.bss(\..*)?|\.tdata(\..*)?|"
    r"\.tbss(\..*)?|\.comment|\.note\.GNU-stack|\.note\.gnu\.property|\.eh_frame|\.debug_.*|\.zdebug_.*|"
    r"\.symtab|\.symtab_shndx|\.strtab|\.shstrtab|\.group|\.llvm_addrsig|\.gcc_except_table(\..*)?|"
    r"\.(rela?)(\.(text|data|data\.rel\.ro|rodata|tdata|eh_frame|debug_[a-z_]+|gcc_except_table)(\..*)?))$")
STRUCTORS = (".init_array", ".preinit_array", ".fini_array", ".ctors", ".dtors")
# Raw system calls: by mnemonic in the disassembly, and by bytes in code.
SYSCALL_MNEMONICS = re.compile(r"\t(syscall|sysenter|int\s+\$0x80|svc\s+#?0x0*\b|svc\b)")
SYSCALL_BYTES = {"x86": (b"\x0f\x05", b"\x0f\x34", b"\xcd\x80"), "arm64": ()}
ASM_TOKEN = re.compile(r"\b(asm|__asm|__asm__)\b")

# A section of readelf -S: (index, name, type, offset, size, flags).
Section = Tuple[int, str, str, int, int, str]


class Rules:
    def __init__(self, path: str = RULES_FILE) -> None:
        self.sections: dict[str, set[str]] = {}
        self.reasons: dict[str, str] = {}
        self.replacements: dict[str, str] = {}   # [replay]: name -> its lab_ replacement
        section = ""
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith("["):
                    section = line.strip("[]")
                    self.sections[section] = set()
                    continue
                name, _, reason = line.partition(" ")
                self.sections[section].add(name)
                if section == "replay":
                    self.replacements[name] = reason.strip()
                elif reason.strip():
                    self.reasons[name] = reason.strip()
        self.define = self.sections["define"]
        self.callable = self.sections["lab"] | self.sections["libc"]
        self.framework = self.sections["lab"] | self.sections["framework"]
        self.libc = self.sections["libc"] | self.sections["forbidden"]
        self.replay = self.sections["replay"]


def _tool(args: list[str]) -> str:
    proc = subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    if proc.returncode != 0:
        raise OSError(f"{' '.join(args)}: {proc.stderr.decode('utf-8', 'replace').strip()[:300]}")
    return proc.stdout.decode("utf-8", "replace")


def read_sections(obj: str) -> list[Section]:
    """[(index, name, type, offset, size, flags)] from readelf -S."""
    out = []
    for line in _tool(["readelf", "-S", "-W", obj]).splitlines():
        m = re.match(r"^\s*\[\s*(\d+)\]\s(.*)$", line)
        if not m:
            continue
        fields = m.group(2).split()
        if int(m.group(1)) == 0:
            continue
        # Name Type Address Off Size ES Flg [Lk Inf Al]: a name may be empty
        if len(fields) >= 10:
            name, typ, _, off, size, _, flags = fields[:7]
        elif len(fields) == 9:   # no flags
            name, typ, _, off, size = fields[:5]
            flags = ""
        else:
            continue
        out.append((int(m.group(1)), name, typ, int(off, 16), int(size, 16), flags))
    return out


def read_symbols(obj: str) -> list[tuple[str, str, str, str]]:
    """[(name, type, bind, ndx)] from readelf -s (every symbol table)."""
    out = []
    for line in _tool(["readelf", "-s", "-W", obj]).splitlines():
        m = re.match(r"^\s*\d+:\s+[0-9a-fA-F]+\s+\S+\s+(\S+)\s+(\S+)\s+\S+\s+(\S+)\s*(.*)$", line)
        if m:
            out.append((m.group(4).strip(), m.group(1), m.group(2), m.group(3)))
    return out


def machine(obj: str) -> str:
    text = _tool(["readelf", "-h", "-W", obj])
    if "AArch64" in text:
        return "arm64"
    return "x86"


def check_symbols(obj: str, rules: Rules, source: str = "raft.c") -> list[str]:
    problems = []
    for name, typ, bind, ndx in read_symbols(obj):
        if typ == "IFUNC":
            problems.append(f"{source} defines {name} as an indirect function (ifunc): its resolver "
                            "would run as the program loads, outside any test")
            continue
        if not name or typ in ("FILE", "SECTION"):
            continue
        if ndx == "UND":
            if name in rules.callable:
                continue
            if name in rules.sections["framework"]:
                problems.append(f"{source} calls {name}, a framework function a Raft may not call "
                                f"({rules.reasons.get(name, 'for the tester only')})")
            elif name in rules.sections["forbidden"]:
                problems.append(f"{source} calls {name}, which a Raft may not use: it {rules.reasons[name]}")
            else:
                problems.append(f"{source} uses {name}, which is not on the list of the lab's API and the C "
                                "library a Raft needs (tools/raftlab/run/objcheck_rules.txt)")
            continue
        if bind in ("LOCAL",):
            continue
        # a global, weak or unique definition, or a common symbol
        if name in rules.define and typ == "FUNC":
            continue
        if name in rules.framework:
            problems.append(f"{source} defines {name}, a framework function: only the six raft_* "
                            "functions may be defined outside static")
        elif name in rules.libc or name in rules.callable:
            problems.append(f"{source} defines {name}, a C library function: only the six raft_* "
                            "functions may be defined outside static")
        elif name in rules.define:
            problems.append(f"{source} defines {name} as a {typ.lower()}, not a function")
        else:
            problems.append(f"{source} defines the global symbol {name}: only the six raft_* functions "
                            "may be global (make it static)")
    return problems


def check_sections(obj: str, source: str = "raft.c") -> list[str]:
    problems = []
    for _, name, typ, _, _, flags in read_sections(obj):
        base = re.sub(r"^\.rela?(?=\.)", "", name)
        if base.startswith(STRUCTORS) or typ in ("INIT_ARRAY", "FINI_ARRAY", "PREINIT_ARRAY"):
            problems.append(f"{source} has a {name} section: constructors and destructors run outside "
                            "every test, before or after it")
        elif name.startswith("cr_") or "criterion" in name.lower() or name.startswith(".cr_"):
            problems.append(f"{source} has a Criterion section ({name}): tests and hooks are the tester's")
        elif not ALLOWED_SECTIONS.match(name):
            problems.append(f"{source} has a section {name!r}, which a C Raft compiled with the lab's "
                            "flags does not have")
        elif "X" in flags and not re.match(r"^\.text(\..*)?$", name):
            problems.append(f"{source} has code in the section {name}: code belongs in .text")
        elif "X" in flags and "W" in flags:
            problems.append(f"{source} has code that can also be written ({name})")
    return problems


def check_code(obj: str, source: str = "raft.c") -> list[str]:
    """No raw system call: the disassembly of every code section, and the
    bytes of each (a jump into the middle of an instruction finds bytes
    that a linear disassembly reads as something else)."""
    problems: list[str] = []
    arch = machine(obj)
    sections = [s for s in read_sections(obj) if "X" in s[5]]
    if not sections:
        return problems
    text = _tool(["objdump", "-d", "--no-show-raw-insn", obj])
    func = "?"
    for line in text.splitlines():
        head = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if head:
            func = head.group(1)
            continue
        m = SYSCALL_MNEMONICS.search(line)
        if m:
            problems.append(f"{source} makes a raw system call ({m.group(1).split()[0]} in {func}): system "
                            "calls bypass the list of functions a Raft may use")
            return problems
    with open(obj, "rb") as f:
        data = f.read()
    for _, name, typ, off, size, _ in sections:
        if typ == "NOBITS":
            continue
        body = data[off:off + size]
        for pattern in SYSCALL_BYTES.get(arch, ()):
            at = body.find(pattern)
            if at >= 0:
                problems.append(f"{source} has the bytes of a system call instruction ({pattern.hex(' ')}) "
                                f"in its code ({name}+{at:#x}): system calls bypass the list of functions "
                                "a Raft may use")
                return problems
    return problems


def read_deps(dep_path: str) -> list[str]:
    """The prerequisites of a make dependency file (-MD/-MMD)."""
    with open(dep_path, "rb") as f:
        text = f.read(4 << 20).decode("utf-8", "replace")
    text = text.replace("\\\n", " ")
    deps: list[str] = []
    for line in text.splitlines():
        target, sep, rest = line.partition(": ")
        if not sep:
            if line.rstrip().endswith(":") and deps:
                continue   # -MP's phony targets
            continue
        if deps:
            continue       # -MP's "header:" lines come after the first rule
        for word in re.findall(r"(?:\\ |[^\s])+", rest):
            deps.append(word.replace("\\ ", " "))
    return deps


def check_headers(deps: Sequence[str], lab_root: str, source_path: str, source: str = "raft.c") -> list[str]:
    """deps as the compiler saw them (relative to lab_root, its working
    directory); source_path is the submission's file, as it saw it."""
    problems = []
    lab_root = os.path.abspath(lab_root)
    source_abs = os.path.normpath(os.path.join(lab_root, source_path))
    for dep in deps:
        full = os.path.normpath(os.path.join(lab_root, dep))
        if full == source_abs:
            continue
        rel = os.path.relpath(full, lab_root)
        parts = rel.split(os.sep)
        if (not rel.startswith("..") and len(parts) == 2 and parts[0] in LAB_HEADER_DIRS
                and parts[1].endswith(".h") and not parts[1].endswith("_internal.h")):
            continue
        if full.startswith(SYSTEM_HEADER_PREFIXES) and "/criterion/" not in full and full.endswith(".h"):
            continue
        if full.startswith(SYSTEM_HEADER_PREFIXES) and "/criterion/" not in full and "/include/" in full:
            continue   # C++-style extensionless system headers
        if "/criterion/" in full:
            why = "the test framework's header"
        elif full.startswith("/dev/") or full.startswith("/proc/") or full.startswith("/sys/"):
            why = "a device or a kernel file"
        elif (not rel.startswith("..") and parts[0] == "solution") or "/solution/" in full:
            why = "the reference solution"
        elif not rel.startswith("..") and parts[0] in ("harness", "tests", "checks"):
            why = "the tester's own code"
        elif not rel.startswith("..") and parts[0] in LAB_HEADER_DIRS and parts[-1].endswith("_internal.h"):
            why = "internal to the framework"
        elif not rel.startswith("..") and parts[0] in LAB_HEADER_DIRS:
            why = "a framework source, not a header"
        else:
            why = "neither a system header nor one of the lab's headers"
        shown = rel if not rel.startswith("..") else full
        problems.append(f"{source} includes {shown}: {why}; a submission may include only the system's "
                        "headers and the lab's (lab/, labrpc/, persister/, applych/, raft/)")
    return problems


def check_preprocessed(text: str, source_name: str, source: str = "raft.c") -> list[str]:
    """No asm in the lines that came from the submission itself (line
    markers say which file each line is from)."""
    current = None
    for line in text.splitlines():
        if line.startswith("#"):
            m = re.match(r'^#\s*\d+\s+"(.*?)"', line)
            if m:
                current = m.group(1)
            continue
        if current is not None and os.path.basename(current) == source_name and ASM_TOKEN.search(line):
            return [f"{source} uses inline assembly: it can make system calls or read files that bypass "
                    "every other rule"]
    return []


def check_replay(obj: str, rules: Rules | None = None, source: str = "raft.c") -> list[str]:
    """The calls of the object that simulation mode cannot schedule or
    replay (threads, locks, sleeps, clocks and random numbers that bypass
    lab/sync.h and lab/rand.h), each with its lab_ replacement."""
    rules = rules or Rules()
    return [f"{source} calls {name}(), which simulation mode (SIM=1) cannot schedule or replay: "
            f"use {rules.replacements[name]}"
            for name, _, _, ndx in read_symbols(obj)
            if ndx == "UND" and name in rules.replay]


def check_object(obj: str, rules: Rules | None = None, source: str = "raft.c") -> list[str]:
    """Every problem of the object file: sections (constructors, Criterion)
    first, then symbols, then code."""
    rules = rules or Rules()
    return check_sections(obj, source) + check_symbols(obj, rules, source) + check_code(obj, source)
