;; component.wat: a core module in the component canonical ABI subset
;; (SPEC §6.5): it exports cabi_realloc, so a string arg is lowered to
;; (ptr, len) in memory. strlen returns the length it was given and
;; first_byte the first byte it finds there. _initialize (a WASI reactor's
;; initializer, SPEC §6.1) sets $init, which initialized returns; bump
;; returns 1 in every fresh instance.
;; Build: wat2wasm conformance/testdata/component.wat -o conformance/testdata/component.wasm
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (global $init (mut i32) (i32.const 0))
  (global $count (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $init (i32.const 41)))
  (func (export "initialized") (result i32) (i32.add (global.get $init) (i32.const 1)))
  (func (export "bump") (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (global.get $count))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get 3)))
    (local.get $p))
  (func (export "strlen") (param $ptr i32) (param $len i32) (result i32)
    (local.get $len))
  (func (export "first_byte") (param $ptr i32) (param $len i32) (result i32)
    (i32.load8_u (local.get $ptr))))
