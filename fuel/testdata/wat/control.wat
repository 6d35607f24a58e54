(module
  (type $pair (func (param i32) (result i32 i32)))
  ;; br_table switch
  (func (export "switch") (param $x i32) (result i32)
    (block $d
      (block $c
        (block $b
          (block $a
            (br_table $a $b $c $d (local.get $x)))
          (return (i32.const 100)))
        (return (i32.const 200)))
      (return (i32.const 300)))
    (i32.const 400))
  ;; if/else with results, select
  (func (export "clamp") (param $x i32) (param $lo i32) (param $hi i32) (result i32)
    (if (result i32) (i32.lt_s (local.get $x) (local.get $lo))
      (then (local.get $lo))
      (else
        (select (local.get $hi) (local.get $x) (i32.gt_s (local.get $x) (local.get $hi))))))
  ;; multi-value block with a type index, and multi-value return
  (func $divmod (export "divmod") (param $a i32) (param $b i32) (result i32 i32)
    (i32.div_u (local.get $a) (local.get $b))
    (i32.rem_u (local.get $a) (local.get $b)))
  (func (export "mv") (param $x i32) (result i32)
    (local.get $x)
    (block (type $pair)
      (local.set $x)
      (i32.mul (local.get $x) (i32.const 3))
      (i32.add (local.get $x) (i32.const 7)))
    (call $divmod)
    (i32.add))
  ;; loop with params (multi-value)
  (func (export "looparams") (param $n i32) (result i32)
    (i32.const 0)
    (local.get $n)
    (loop $l (param i32 i32) (result i32)
      (local.set $n)
      (i32.add (local.get $n))
      (local.get $n)
      (i32.sub (i32.const 1))
      (local.tee $n)
      (local.get $n)
      (br_if $l)
      (drop)))
  ;; early return from deep nesting, unreachable code after br
  (func (export "deep") (param $x i32) (result i32)
    (block $out (result i32)
      (block
        (block
          (loop $l
            (br_if $out (i32.const 7) (i32.gt_u (local.get $x) (i32.const 50)))
            (local.set $x (i32.add (local.get $x) (i32.const 13)))
            (br $l)
            (unreachable)
            (i32.const 1)
            (drop))))
      (i32.const 9)))
)
