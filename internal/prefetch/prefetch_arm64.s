#include "textflag.h"

// func Read(p *uint64)
TEXT ·Read(SB), NOSPLIT, $0-8
	MOVD p+0(FP), R0
	PRFM (R0), PLDL1KEEP
	RET

// func Write(p unsafe.Pointer, n uintptr)
TEXT ·Write(SB), NOSPLIT, $0-16
	MOVD p+0(FP), R0
	MOVD n+8(FP), R1
	ADD R0, R1, R1
	AND $-64, R0, R0 // from the line holding p
loop:
	CMP R1, R0
	BHS done
	PRFM (R0), PSTL1KEEP
	ADD $64, R0, R0
	B loop
done:
	RET
