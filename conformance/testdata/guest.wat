;; guest.wat: the conformance suite's guest (SPEC §6.2 numeric and §6.3
;; DAG-CBOR ABIs, and the §6.6 failure table).
;; Build: wat2wasm conformance/testdata/guest.wat -o conformance/testdata/guest.wasm
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  ;; numeric: add_one costs exactly 3 fuel under ipvm-fuel-v1 (§8.4:
  ;; local.get 1 + i32.const 1 + i32.add 1, end 0)
  (func (export "add_one") (param i32) (result i32)
    (i32.add (local.get 0) (i32.const 1)))
  (func (export "add") (param i64 i64) (result i64)
    (i64.add (local.get 0) (local.get 1)))
  (func (export "divmod") (param i32 i32) (result i32 i32)
    (i32.div_s (local.get 0) (local.get 1))
    (i32.rem_s (local.get 0) (local.get 1)))
  (func (export "half") (param f64) (result f64)
    (f64.mul (local.get 0) (f64.const 0.5)))
  ;; NaN is not an IPLD value: BadOutput (§6.2)
  (func (export "nan") (result f64) (f64.div (f64.const 0) (f64.const 0)))
  ;; grows memory by one page: 11 static fuel + 1024 dynamic (§8.3)
  (func (export "grow1") (result i32)
    (drop (memory.grow (i32.const 1)))
    (i32.const 0))
  ;; counts n down to 0: 1 fuel at entry and 8 per iteration (§8.3)
  (func (export "spin") (param $n i32) (result i32)
    (loop $l
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get $n) (i32.const 0))))
    (local.get $n))
  ;; dag-cbor ABI: returns one byte 0xff, which is not DAG-CBOR (BadOutput)
  (func (export "garbage") (param $p i32) (param $n i32) (result i64)
    (i32.store8 (local.get $p) (i32.const 0xff))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.const 1)))
  ;; spins forever
  (func (export "loop") (result i32)
    (loop $l (br $l)) (i32.const 0))
  ;; grows memory a page at a time, trapping when a grow is refused
  (func (export "grow") (result i32)
    (loop $l
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
      (br $l))
    (i32.const 0))
  ;; recurses without end
  (func $recurse (export "recurse") (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "trap") (result i32) unreachable)
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  ;; dag-cbor ABI: bump allocator
  (func (export "alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (if (i32.gt_u (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
      (then (drop (memory.grow (i32.add (i32.shr_u (local.get $n) (i32.const 16)) (i32.const 1))))))
    (local.get $p))
  ;; dag-cbor ABI: returns its input (the params list) unchanged
  (func (export "echo") (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n)))))
