/* bcryptprimitives.dll for Wine 8: ProcessPrng, which Go 1.26 programs
   load at start on Windows, fills a buffer with random bytes through
   RtlGenRandom. Windows 10 and later have the real DLL. */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE buf, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!RtlGenRandom(buf, n))
			return FALSE;
		buf += n;
		len -= n;
	}
	return TRUE;
}
