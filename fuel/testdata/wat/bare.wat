(module
  (func $empty)
  (func $f (param i32) (result i32) (call $empty) (local.get 0)))
