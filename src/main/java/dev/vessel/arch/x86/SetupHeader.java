package dev.vessel.arch.x86;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The real-mode setup header of a bzImage (Documentation/arch/x86/boot.rst), parsed and
 * validated. Vessel uses the 64-bit entry, so it needs protocol 2.12+ and XLF_KERNEL_64.
 */
public record SetupHeader(
        int setupSects,
        int protocolVersion,
        int loadFlags,
        long initrdAddrMax,
        long kernelAlignment,
        boolean relocatable,
        int xloadFlags,
        long cmdlineSize,
        long prefAddress,
        long initSize,
        int headerEnd) {

    /** Offsets of setup header fields within the image (and within boot_params). */
    public static final int OFF_SETUP_SECTS = 0x1f1;
    public static final int OFF_BOOT_FLAG = 0x1fe;
    public static final int OFF_JUMP = 0x200;
    public static final int OFF_HEADER = 0x202;
    public static final int OFF_VERSION = 0x206;
    public static final int OFF_TYPE_OF_LOADER = 0x210;
    public static final int OFF_LOADFLAGS = 0x211;
    public static final int OFF_RAMDISK_IMAGE = 0x218;
    public static final int OFF_RAMDISK_SIZE = 0x21c;
    public static final int OFF_HEAP_END_PTR = 0x224;
    public static final int OFF_CMD_LINE_PTR = 0x228;
    public static final int OFF_INITRD_ADDR_MAX = 0x22c;
    public static final int OFF_KERNEL_ALIGNMENT = 0x230;
    public static final int OFF_RELOCATABLE = 0x234;
    public static final int OFF_XLOADFLAGS = 0x236;
    public static final int OFF_CMDLINE_SIZE = 0x238;
    public static final int OFF_PREF_ADDRESS = 0x258;
    public static final int OFF_INIT_SIZE = 0x260;

    public static final int MAGIC_HDRS = 0x53726448; // "HdrS"
    public static final int BOOT_FLAG = 0xAA55;
    public static final int XLF_KERNEL_64 = 1;
    public static final int LOADED_HIGH = 0x01;
    public static final int CAN_USE_HEAP = 0x80;
    public static final int MIN_PROTOCOL = 0x020c;

    /** Parses and validates the header at the start of {@code image}. */
    public static SetupHeader parse(byte[] image) throws BootImageException {
        if (image.length < 0x270) {
            throw new BootImageException("not a Linux kernel: only " + image.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if (Short.toUnsignedInt(b.getShort(OFF_BOOT_FLAG)) != BOOT_FLAG || b.getInt(OFF_HEADER) != MAGIC_HDRS) {
            if (image.length > 4 && image[0] == 0x7f && image[1] == 'E' && image[2] == 'L' && image[3] == 'F') {
                throw new BootImageException("an ELF vmlinux, not a bzImage: pass the bzImage (vmlinuz)");
            }
            throw new BootImageException("not a Linux bzImage (no boot signature / HdrS header)");
        }
        int version = Short.toUnsignedInt(b.getShort(OFF_VERSION));
        if (version < MIN_PROTOCOL) {
            throw new BootImageException(String.format(
                    "boot protocol %d.%02d is too old: the 64-bit entry needs 2.12 or newer",
                    version >> 8, version & 0xff));
        }
        int xloadFlags = Short.toUnsignedInt(b.getShort(OFF_XLOADFLAGS));
        if ((xloadFlags & XLF_KERNEL_64) == 0) {
            throw new BootImageException("kernel has no 64-bit entry point (not an x86-64 kernel?)");
        }
        int setupSects = Byte.toUnsignedInt(b.get(OFF_SETUP_SECTS));
        if (setupSects == 0) {
            setupSects = 4; // The protocol says 0 means 4.
        }
        long setupBytes = (setupSects + 1L) * 512;
        if (setupBytes >= image.length) {
            throw new BootImageException("kernel image is truncated: setup (" + setupBytes
                    + " bytes) reaches past its end (" + image.length + " bytes)");
        }
        int headerEnd = OFF_HEADER + Byte.toUnsignedInt(b.get(OFF_JUMP + 1));
        if (Byte.toUnsignedInt(b.get(OFF_JUMP)) != 0xEB || headerEnd <= OFF_INIT_SIZE || headerEnd > setupBytes) {
            throw new BootImageException("kernel setup header has a bad length");
        }
        long alignment = Integer.toUnsignedLong(b.getInt(OFF_KERNEL_ALIGNMENT));
        if (alignment == 0 || Long.bitCount(alignment) != 1) {
            throw new BootImageException("kernel alignment 0x" + Long.toHexString(alignment) + " is not a power of two");
        }
        long initSize = Integer.toUnsignedLong(b.getInt(OFF_INIT_SIZE));
        if (initSize < image.length - setupBytes) {
            throw new BootImageException("kernel init_size is smaller than the kernel itself");
        }
        return new SetupHeader(setupSects, version, Byte.toUnsignedInt(b.get(OFF_LOADFLAGS)),
                Integer.toUnsignedLong(b.getInt(OFF_INITRD_ADDR_MAX)), alignment,
                b.get(OFF_RELOCATABLE) != 0, xloadFlags,
                Integer.toUnsignedLong(b.getInt(OFF_CMDLINE_SIZE)),
                b.getLong(OFF_PREF_ADDRESS), initSize, headerEnd);
    }

    /** Bytes of real-mode setup code before the protected-mode kernel. */
    public long setupBytes() {
        return (setupSects + 1L) * 512;
    }

    public String versionString() {
        return (protocolVersion >> 8) + "." + String.format("%02d", protocolVersion & 0xff);
    }
}
