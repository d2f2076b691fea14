;; A module that writes where it is told, for the pool-reset test
;; (`runtime::tests::the_pool_resets_a_slot_to_its_image`): the next instance in the same slot
;; must see the module's image again.
(module
  (memory (export "memory") 4)
  (data (i32.const 0) "image")
  ;; The byte at `at`.
  (func (export "peek") (param $at i32) (result i32)
    (i32.load8_u (local.get $at)))
  ;; Writes 0xAB at `at`, first growing the memory until `at` is inside it.
  (func (export "scribble") (param $at i32)
    (block $done
      (loop $grow
        (br_if $done (i32.lt_u (local.get $at)
                               (i32.mul (memory.size) (i32.const 65536))))
        (drop (memory.grow (i32.const 1)))
        (br $grow)))
    (i32.store8 (local.get $at) (i32.const 0xAB)))
  ;; The memory's size in pages.
  (func (export "size") (result i32)
    (memory.size)))
