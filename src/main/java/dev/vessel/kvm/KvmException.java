package dev.vessel.kvm;

/** KVM refused or failed an operation the VMM needed; the message says which. */
public class KvmException extends Exception {
    public KvmException(String message) {
        super(message);
    }

    public KvmException(String message, Throwable cause) {
        super(message, cause);
    }
}
