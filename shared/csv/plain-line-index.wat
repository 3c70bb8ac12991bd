;; The plain-line scan of shared/csv/snapshot-scanner.ts, in WebAssembly with 128-bit SIMD: the same judgement of
;; each line as `SnapshotScanner.lineByLine`, which stays as the reference and the fallback, and a property test holds
;; the two together (test/shared/csv/plain-line-index.test.ts). JavaScript looks at one byte per step (about 2.6 ns a
;; byte in the scanner); this looks at 16 at once and stops only at the bytes that matter: a comma, a line end, and
;; the bytes that make a line not plain (a control byte, non-ASCII, a quote, a backslash).
;;
;; Built into shared/csv/plain-line-index.wasm.ts by `npm run build:wasm` (scripts/build-wasm.mjs, with wabt);
;; a test fails when that file is not what this source builds to.
;;
;; scan(begin, len, width, out, max, maxBytes) reads the bytes at [begin, len) of memory (the caller leaves 16
;; readable bytes past len) and writes one record per complete line, at most `max`, from address `out` on:
;;   i32 kind        0 plain (split into `width` fields by exactly width - 1 commas, printable ASCII without a
;;                   quote or a backslash, at most maxBytes long), 1 empty, 2 anything else (the CSV reader's)
;;   i32 lineFeed    where the line's line feed is
;;   i32 cuts[width + 1]  cuts[0] = the line's start - 1; a plain line's field k is [cuts[k] + 1, cuts[k + 1]),
;;                   cuts[width] its end (before a CR LF's CR). Only cuts[0] is meaningful for kinds 1 and 2.
;; It returns the number of records and sets the global `next` to where the caller goes on: the start of the
;; first line it did not record (incomplete in [begin, len), or past `max`).
(module
  (import "env" "memory" (memory 1))
  (global $next (export "next") (mut i32) (i32.const 0))
  (func (export "scan")
    (param $begin i32) (param $len i32) (param $width i32) (param $out i32) (param $max i32) (param $maxBytes i32)
    (result i32)
    (local $p i32) (local $m i32) (local $i i32) (local $b i32) (local $start i32) (local $k i32) (local $bad i32)
    (local $rec i32) (local $count i32) (local $stride i32) (local $last i32) (local $end i32) (local $v v128)
    (local.set $stride (i32.shl (i32.add (local.get $width) (i32.const 3)) (i32.const 2)))
    (local.set $last (i32.sub (local.get $width) (i32.const 1)))
    (local.set $start (local.get $begin))
    (local.set $p (local.get $begin))
    (local.set $rec (local.get $out))
    (i32.store offset=8 (local.get $rec) (i32.sub (local.get $start) (i32.const 1)))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $p) (local.get $len)))
        (local.set $v (v128.load (local.get $p)))
        (local.set $m (i8x16.bitmask
          (v128.or
            (v128.or
              (i8x16.eq (local.get $v) (v128.const i8x16 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44))
              (i8x16.eq (local.get $v) (v128.const i8x16 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34)))
            (v128.or
              (i8x16.eq (local.get $v) (v128.const i8x16 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92))
              (v128.or
                (i8x16.lt_u (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                (i8x16.gt_u (local.get $v) (v128.const i8x16 126 126 126 126 126 126 126 126 126 126 126 126 126 126 126 126)))))))
        (if (i32.lt_u (i32.sub (local.get $len) (local.get $p)) (i32.const 16))
          (then (local.set $m (i32.and (local.get $m)
            (i32.sub (i32.shl (i32.const 1) (i32.sub (local.get $len) (local.get $p))) (i32.const 1))))))
        (block $blockDone
          (loop $events
            (br_if $blockDone (i32.eqz (local.get $m)))
            (local.set $i (i32.add (local.get $p) (i32.ctz (local.get $m))))
            (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
            (local.set $b (i32.load8_u (local.get $i)))
            (if (i32.eq (local.get $b) (i32.const 44))
              (then
                (if (i32.lt_u (local.get $k) (local.get $last))
                  (then
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (i32.store offset=8 (i32.add (local.get $rec) (i32.shl (local.get $k) (i32.const 2))) (local.get $i)))
                  (else (local.set $bad (i32.const 1))))
                (br $events)))
            (if (i32.eq (local.get $b) (i32.const 13))
              (then
                (if (i32.eqz (i32.and
                      (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $len))
                      (i32.eq (i32.load8_u offset=1 (local.get $i)) (i32.const 10))))
                  (then (local.set $bad (i32.const 1))))
                (br $events)))
            (if (i32.ne (local.get $b) (i32.const 10))
              (then (local.set $bad (i32.const 1)) (br $events)))
            ;; a line feed: the line [start, end) is complete
            (local.set $end (local.get $i))
            (if (i32.gt_u (local.get $i) (local.get $start))
              (then (if (i32.eq (i32.load8_u offset=0 (i32.sub (local.get $i) (i32.const 1))) (i32.const 13))
                (then (local.set $end (i32.sub (local.get $i) (i32.const 1)))))))
            (i32.store offset=4 (local.get $rec) (local.get $i))
            (if (i32.eq (local.get $end) (local.get $start))
              (then (i32.store (local.get $rec) (i32.const 1)))
              (else
                (if (i32.and (i32.and (i32.eqz (local.get $bad)) (i32.eq (local.get $k) (local.get $last)))
                      (i32.le_u (i32.sub (local.get $end) (local.get $start)) (local.get $maxBytes)))
                  (then
                    (i32.store (local.get $rec) (i32.const 0))
                    (i32.store offset=8 (i32.add (local.get $rec) (i32.shl (local.get $width) (i32.const 2))) (local.get $end)))
                  (else (i32.store (local.get $rec) (i32.const 2))))))
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            (local.set $rec (i32.add (local.get $rec) (local.get $stride)))
            (local.set $start (i32.add (local.get $i) (i32.const 1)))
            (local.set $k (i32.const 0))
            (local.set $bad (i32.const 0))
            (if (i32.eq (local.get $count) (local.get $max))
              (then (global.set $next (local.get $start)) (return (local.get $count))))
            (i32.store offset=8 (local.get $rec) (i32.sub (local.get $start) (i32.const 1)))
            (br $events)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $blocks)))
    (global.set $next (local.get $start))
    (local.get $count)))
