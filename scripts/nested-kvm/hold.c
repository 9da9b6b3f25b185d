/*
 * hold.c - keeps one KVM VM open for as long as the nested guest runs.
 *
 * The guest kernel switches a static key (preempt notifiers) whenever the
 * number of VMs goes between 0 and 1, and each switch rewrites code in
 * finish_task_switch. Under QEMU's multi-threaded TCG that cross-modifying
 * write was seen to hang the guest (soft lockups at that very instruction);
 * with one VM always open the key never flips. The guest's init starts it
 * while only one CPU is online and waits for the file named by argv[1], made
 * once the VM exists, before it brings the others up. Built statically by
 * setup.sh.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);

	if (vm < 0) {
		perror("nested-kvm hold");
		return 1;
	}
	if (argc > 1) {
		int ready = open(argv[1], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (ready >= 0)
			close(ready);
	}
	for (;;)
		pause();
}
