;; hello.wat: the numeric ABI (SPEC §6.2). Each export takes and returns
;; plain i32/i64/f32/f64 values; ipvm maps task params to them.
;; Build: wat2wasm examples/hello.wat -o examples/hello.wasm
(module
  ;; add_one(i32) -> i32
  (func (export "add_one") (param $x i32) (result i32)
    (i32.add (local.get $x) (i32.const 1)))
  ;; add(i64, i64) -> i64
  (func (export "add") (param $a i64) (param $b i64) (result i64)
    (i64.add (local.get $a) (local.get $b)))
  ;; scale(f64, f64) -> f64
  (func (export "scale") (param $x f64) (param $k f64) (result f64)
    (f64.mul (local.get $x) (local.get $k)))
  ;; divmod(i32, i32) -> (i32, i32): several results come back as a list
  (func (export "divmod") (param $a i32) (param $b i32) (result i32 i32)
    (i32.div_s (local.get $a) (local.get $b))
    (i32.rem_s (local.get $a) (local.get $b))))
