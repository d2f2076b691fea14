;; A hostile guest: it imports wrex's `file` resource and drops a handle it was never given.
;; The host must trap this guest and stay healthy.
(component
  (import "wrex:sdk/fs@0.1.0" (instance $fs
    (export "file" (type (sub resource)))
  ))
  (alias export $fs "file" (type $file))
  (core func $drop (canon resource.drop $file))
  (core module $m
    (import "host" "drop" (func $drop (param i32)))
    (func (export "run") (call $drop (i32.const 42)))
  )
  (core instance $i (instantiate $m (with "host" (instance (export "drop" (func $drop))))))
  (func (export "run") (canon lift (core func $i "run")))
)
