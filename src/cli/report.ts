export async function reportCommand(_: string[]): Promise<number> { return 0; }
