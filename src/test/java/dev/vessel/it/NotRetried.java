package dev.vessel.it;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Tests of a class that replaces the helper machine on purpose: {@link HelperMachineExtension}
 * does not take a failure of theirs for the machine's death.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@interface NotRetried {}
