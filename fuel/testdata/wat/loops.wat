(module
  ;; sum of 0..n-1
  (func (export "sum") (param $n i32) (result i64)
    (local $i i32) (local $acc i64)
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (local.get $acc))
  ;; nested loops: sum over i<n, j<i of i*j
  (func (export "nested") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $acc i32)
    (loop $outer
      (if (i32.lt_u (local.get $i) (local.get $n))
        (then
          (local.set $j (i32.const 0))
          (loop $inner
            (if (i32.lt_u (local.get $j) (local.get $i))
              (then
                (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (local.get $j))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $inner))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $outer))))
    (local.get $acc))
  ;; tight loop: count down n times
  (func (export "spin") (param $n i32) (result i32)
    (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (local.get $n)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $acc))
  ;; the tightest loop: count n down to zero
  (func (export "countdown") (param $n i32) (result i32)
    (loop $l
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $n))
  ;; iterative fibonacci mod 2^64
  (func (export "fib") (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $t i64)
    (local.set $b (i64.const 1))
    (block $d
      (loop $l
        (br_if $d (i32.eqz (local.get $n)))
        (local.set $t (i64.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $a))
  ;; collatz steps, division and remainder
  (func (export "collatz") (param $n i64) (result i32)
    (local $steps i32)
    (block $d
      (loop $l
        (br_if $d (i64.le_u (local.get $n) (i64.const 1)))
        (if (i64.eqz (i64.rem_u (local.get $n) (i64.const 2)))
          (then (local.set $n (i64.div_u (local.get $n) (i64.const 2))))
          (else (local.set $n (i64.add (i64.mul (local.get $n) (i64.const 3)) (i64.const 1)))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br $l)))
    (local.get $steps))
)
