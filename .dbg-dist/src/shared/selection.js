"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.selects = selects;
/** Whether the current field's selection (through fragments) includes any of `names`. */
function selects(info, ...names) {
    const walk = (set) => !!set?.selections.some((s) => {
        if (s.kind === 'Field')
            return names.includes(s.name.value);
        if (s.kind === 'InlineFragment')
            return walk(s.selectionSet);
        return walk(info.fragments[s.name.value]?.selectionSet);
    });
    return info.fieldNodes.some((n) => walk(n.selectionSet));
}
//# sourceMappingURL=selection.js.map