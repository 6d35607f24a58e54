;; wasi.wat: a WASI command (SPEC §6.4) that prints the DAG-JSON value 42.
;; Build: wat2wasm conformance/testdata/wasi.wat -o conformance/testdata/wasi.wasm
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "42\n")
  (func (export "_start")
    ;; iovec {ptr 16, len 3} at 0, bytes written at 8
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
