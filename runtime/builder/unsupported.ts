/**
 * C library functions a sure function cannot have: libsg (the guest library
 * OS) leaves them out on purpose. A build that reaches one fails with
 * "<symbol> is not available in a sure function (<why>)" instead of a bare
 * linker or compiler error. libsg's own headers (libsure/guest/include)
 * list what IS available.
 */

const NO_FILES = "there is no file system: use the request body and sure_write";
const NO_INPUT = "there is no standard input: the request body is the input";
const ONE_PROCESS = "a function is one process with one thread in its own VM";
const NO_NET = "a function has no network; chains pass data between functions";
const NO_ENV =
  'a function\'s environment is read-only: set values at deploy (--env, "env" in sure.json) ' +
  "and read them with getenv or sure_getenv";
const NO_LOCALE = "libsg has only the C locale";
const NO_SIGNALS = "there are no signals in a guest";
const NO_SCANF = "libsg has no scanf family: parse with strtol, strtod and strtok_r";
const NO_LONG_DOUBLE =
  "libsg has no long double math: use the double function (the name without the l)";
const NO_TZ = "a guest has no time zones: times are UTC (gmtime_r, timegm, strftime)";
const NO_WIDE = "a guest has no locales or wide characters: keep UTF-8 in char strings";
const NO_RANDOM_DEVICE = "use rand() (seeded per instance) or sure_instance_seed()";
const LATER = "not in libsg yet";

const groups: [string, string[]][] = [
  [NO_FILES, [
    "fopen",
    "fdopen",
    "freopen",
    "fclose",
    "fread",
    "fseek",
    "ftell",
    "rewind",
    "fgetpos",
    "fsetpos",
    "remove",
    "rename",
    "tmpfile",
    "tmpnam",
    "open",
    "openat",
    "creat",
    "close",
    "read",
    "write",
    "lseek",
    "pread",
    "pwrite",
    "stat",
    "fstat",
    "lstat",
    "unlink",
    "mkdir",
    "rmdir",
    "opendir",
    "readdir",
    "closedir",
    "chdir",
    "getcwd",
    "mmap",
    "munmap",
    "dup",
    "dup2",
    "pipe",
    "ioctl",
    "fcntl",
  ]],
  [NO_INPUT, ["scanf", "fscanf", "getchar", "getc", "fgetc", "fgets", "gets", "ungetc", "getline"]],
  [ONE_PROCESS, [
    "fork",
    "vfork",
    "execl",
    "execlp",
    "execv",
    "execve",
    "execvp",
    "system",
    "popen",
    "pclose",
    "wait",
    "waitpid",
    "kill",
    "getpid",
    "getppid",
    "pthread_create",
    "pthread_join",
    "pthread_mutex_lock",
    "pthread_mutex_unlock",
    "sleep",
    "usleep",
    "nanosleep",
    "atexit",
    "syscall",
  ]],
  [NO_NET, [
    "socket",
    "connect",
    "bind",
    "listen",
    "accept",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "getaddrinfo",
    "gethostbyname",
    "select",
    "poll",
    "epoll_create",
    "epoll_wait",
  ]],
  [NO_ENV, ["setenv", "unsetenv", "putenv", "clearenv"]],
  [NO_LOCALE, ["setlocale", "newlocale", "uselocale"]],
  [NO_SIGNALS, ["signal", "sigaction", "raise", "alarm"]],
  [NO_SCANF, ["sscanf", "vsscanf", "strptime"]],
  [NO_LONG_DOUBLE, [
    "strtold",
    "sqrtl",
    "cbrtl",
    "powl",
    "expl",
    "exp2l",
    "logl",
    "log2l",
    "log10l",
    "sinl",
    "cosl",
    "tanl",
    "asinl",
    "acosl",
    "atanl",
    "atan2l",
    "sinhl",
    "coshl",
    "tanhl",
    "fabsl",
    "floorl",
    "ceill",
    "roundl",
    "truncl",
    "fmodl",
    "frexpl",
    "ldexpl",
    "hypotl",
  ]],
  [NO_TZ, ["tzset", "timelocal", "strftime_l"]],
  [NO_WIDE, [
    "localeconv",
    "wcslen",
    "wcscpy",
    "wcscmp",
    "mbstowcs",
    "wcstombs",
    "mbtowc",
    "wctomb",
    "mbrtowc",
    "wprintf",
    "swprintf",
    "towupper",
    "towlower",
    "iswalpha",
  ]],
  [NO_RANDOM_DEVICE, ["getrandom", "arc4random", "random", "srandom", "drand48", "srand48"]],
  [LATER, ["erf", "erfc", "tgamma", "lgamma", "j0", "j1", "y0", "y1", "qsort_r"]],
];

const WHY = new Map<string, string>();
for (const [why, names] of groups) for (const n of names) WHY.set(n, why);

/** Why symbol is left out of libsg, or undefined if it is not known to be. */
export function unsupportedReason(symbol: string): string | undefined {
  return WHY.get(symbol);
}

/**
 * One line per known-unsupported symbol the compiler or linker output
 * mentions (an undefined reference, or an implicit declaration when no
 * header declares it), in order of first mention.
 */
export function explainUnsupported(output: string): string[] {
  const seen = new Set<string>();
  const lines: string[] = [];
  const re =
    /undefined reference to [`'‘]([A-Za-z_][A-Za-z0-9_]*)['’]|implicit declaration of function [`'‘]([A-Za-z_][A-Za-z0-9_]*)['’]/g;
  for (const m of output.matchAll(re)) {
    const sym = m[1] ?? m[2];
    const why = WHY.get(sym);
    if (!why || seen.has(sym)) continue;
    seen.add(sym);
    lines.push(`${sym} is not available in a sure function (${why})`);
  }
  return lines;
}
