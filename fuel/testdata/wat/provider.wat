(module
  (global (export "g") (mut i32) (i32.const 40))
  (global (export "c") i32 (i32.const 2)))
